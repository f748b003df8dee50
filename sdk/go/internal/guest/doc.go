// Package guest is the wasm side of the ABI that every module has: the exports
// tug_abi_version, tug_alloc and tug_configure (ABI.md §2, §4.0), and Call, which the
// operation exports of internal/sched and kinds/… use to run an operation. Package tug
// imports it, so every plugin has these exports. Natively the package is empty.
package guest
