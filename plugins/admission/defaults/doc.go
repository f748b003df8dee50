// Package defaults registers every default admission policy in one module. The host calls
// the module's one admitter for each AdmissionPolicy that names a policy of it, with the
// policy's name and configuration in the request (ABI 1.5), so one instance serves the whole
// chain: no per-policy configuration state, and no instance per policy.
package defaults
