/*
 * The scheduler-plugin plumbing shared by the C guests of bench/plugins, written from
 * hostabi/ABI.md: the version marker, tug_alloc, the node-id and rejection frames (§4.3), and
 * a small JSON scanner. A guest defines the hooks declared at the end; sched.c does the rest.
 *
 * Built as wasm (clang --target=wasm32-wasi -mexec-model=reactor) the exports and imports
 * are the ABI's; built natively (the NATIVE macro) the same code links with native.c, which
 * plays the host, so the two builds run the same source on the same bytes.
 */
#ifndef TUG_SCHED_H
#define TUG_SCHED_H

#include <stddef.h>
#include <stdint.h>

#ifdef NATIVE
#define EXPORT(name)
#define IMPORT(name)
#else
#define EXPORT(name) __attribute__((export_name(name)))
#define IMPORT(name) __attribute__((import_module("tug:host/v1"), import_name(name)))
#endif

enum { STATUS_OK = 0, STATUS_ERROR = 1, STATUS_INVALID_INPUT = 2 };
enum { CODE_ERROR = 1, CODE_UNSCHEDULABLE = 2, CODE_UNRESOLVABLE = 3 };

IMPORT("set_result") void set_result(const uint8_t *ptr, uint32_t len);

int32_t tug_abi_version(void);
uint8_t *tug_alloc(uint32_t size);
int32_t tug_sched_nodes(const uint8_t *p, uint32_t n);
int32_t tug_sched_prefilter(const uint8_t *p, uint32_t n);
int32_t tug_sched_filter(const uint8_t *p, uint32_t n);

/* ---- JSON scanner ---- */

typedef struct {
	const uint8_t *p, *end;
	int err;
} json;

void json_ws(json *j);
/* json_begin consumes '{' or '[' (1), or null (0); anything else is an error (0). */
int json_begin(json *j, char open);
/* json_next moves to the next member or element; 0 (with the closer consumed) at the end. */
int json_next(json *j, char close, int *first);
/* json_key reads a member name (escapes are not decoded: none of the names looked for has
 * any) and the colon; it returns the name's bytes. */
const uint8_t *json_key(json *j, uint32_t *len);
/* json_str reads a string value the same way; json_skip skips any value. */
const uint8_t *json_str(json *j, uint32_t *len);
void json_skip(json *j);
int json_u32(json *j, uint32_t *v);
int key_is(const uint8_t *k, uint32_t len, const char *want);

/* quantity parses a Kubernetes quantity ("500m", "16", "1.5Gi", "1e3") scaled by unit
 * (1000 for milli-units, 1 for units), rounded up, as the Go SDK's Quantity does. */
int quantity(const uint8_t *s, uint32_t len, int64_t unit, int64_t *out);

/* ---- what a guest defines ---- */

/* node_set replaces node id's state with the Node and pods in the entry being scanned: node
 * is the Node object's bytes, pods[i] each pod's. */
int node_set(uint32_t id, const uint8_t *node, uint32_t node_len, const uint8_t **pods, const uint32_t *pod_lens,
             uint32_t npods);
void node_remove(uint32_t id);
/* prefilter reads the cycle's pod; non-zero refuses it as INVALID_INPUT. */
int prefilter(const uint8_t *pod, uint32_t len);
/* filter returns 0 for a node that passes, or a code with *reason set. */
uint32_t filter(uint32_t id, const char **reason);

#endif
