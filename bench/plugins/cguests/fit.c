/* The fit filter of bench/plugins/guests/fit, in C: a node passes when the cpu and memory
 * requests of its resident pods plus the incoming pod's fit its allocatable. As the Go
 * version does, it sums each node's requests once, when the host sends the node. */
#include "sched.h"

#include <string.h>

typedef struct {
	int64_t cpu, mem;
} request;

typedef struct {
	uint8_t present, invalid;
	int64_t alloc_cpu, alloc_mem;
	request used;
} node_sums;

#define MAX_NODES 65536
static node_sums nodes[MAX_NODES];
static request incoming;
static int incoming_invalid;

/* read_quantity reads a string or number value as a quantity. */
static int read_quantity(json *j, int64_t unit, int64_t *v) {
	json_ws(j);
	uint32_t len;
	const uint8_t *s;
	if (j->p < j->end && *j->p == '"') {
		s = json_str(j, &len);
	} else {
		s = j->p;
		json_skip(j);
		len = (uint32_t)(j->p - s);
	}
	return !j->err && quantity(s, len, unit, v);
}

/* read_list reads a ResourceList's cpu and memory; 0 on a malformed quantity. */
static int read_list(json *j, request *r) {
	uint32_t klen;
	int first = 1, ok = 1;
	r->cpu = r->mem = 0;
	if (!json_begin(j, '{'))
		return !j->err;
	while (!j->err && json_next(j, '}', &first)) {
		const uint8_t *k = json_key(j, &klen);
		if (key_is(k, klen, "cpu"))
			ok &= read_quantity(j, 1000, &r->cpu);
		else if (key_is(k, klen, "memory"))
			ok &= read_quantity(j, 1, &r->mem);
		else
			json_skip(j);
	}
	return ok && !j->err;
}

/* read_containers adds (or, for init containers, maxes) the containers' requests into r. */
static int read_containers(json *j, request *r, int init) {
	uint32_t klen;
	int first = 1, ok = 1;
	if (!json_begin(j, '['))
		return !j->err;
	while (!j->err && json_next(j, ']', &first)) {
		request c = {0, 0};
		int f2 = 1;
		if (!json_begin(j, '{'))
			continue;
		while (!j->err && json_next(j, '}', &f2)) {
			const uint8_t *k = json_key(j, &klen);
			if (!key_is(k, klen, "resources")) {
				json_skip(j);
				continue;
			}
			int f3 = 1;
			if (!json_begin(j, '{'))
				continue;
			while (!j->err && json_next(j, '}', &f3)) {
				const uint8_t *rk = json_key(j, &klen);
				if (key_is(rk, klen, "requests"))
					ok &= read_list(j, &c);
				else
					json_skip(j);
			}
		}
		if (init) {
			r->cpu = c.cpu > r->cpu ? c.cpu : r->cpu;
			r->mem = c.mem > r->mem ? c.mem : r->mem;
		} else {
			r->cpu += c.cpu;
			r->mem += c.mem;
		}
	}
	return ok && !j->err;
}

/* pod_request reads a pod: its effective request and whether it has finished. */
static int pod_request(const uint8_t *p, uint32_t n, request *r, int *finished) {
	json j = {p, p + n, 0};
	uint32_t klen;
	int first = 1, ok = 1;
	request containers = {0, 0}, inits = {0, 0}, overhead = {0, 0};
	*finished = 0;
	if (!json_begin(&j, '{'))
		return 0;
	while (!j.err && json_next(&j, '}', &first)) {
		const uint8_t *k = json_key(&j, &klen);
		int f2 = 1;
		if (key_is(k, klen, "spec")) {
			if (!json_begin(&j, '{'))
				continue;
			while (!j.err && json_next(&j, '}', &f2)) {
				const uint8_t *sk = json_key(&j, &klen);
				if (key_is(sk, klen, "containers"))
					ok &= read_containers(&j, &containers, 0);
				else if (key_is(sk, klen, "initContainers"))
					ok &= read_containers(&j, &inits, 1);
				else if (key_is(sk, klen, "overhead"))
					ok &= read_list(&j, &overhead);
				else
					json_skip(&j);
			}
		} else if (key_is(k, klen, "status")) {
			if (!json_begin(&j, '{'))
				continue;
			while (!j.err && json_next(&j, '}', &f2)) {
				const uint8_t *sk = json_key(&j, &klen);
				if (key_is(sk, klen, "phase")) {
					uint32_t plen;
					const uint8_t *ph = json_str(&j, &plen);
					*finished = !j.err && (key_is(ph, plen, "Succeeded") || key_is(ph, plen, "Failed"));
				} else {
					json_skip(&j);
				}
			}
		} else {
			json_skip(&j);
		}
	}
	if (j.err || !ok)
		return 0;
	r->cpu = (containers.cpu > inits.cpu ? containers.cpu : inits.cpu) + overhead.cpu;
	r->mem = (containers.mem > inits.mem ? containers.mem : inits.mem) + overhead.mem;
	return 1;
}

int node_set(uint32_t id, const uint8_t *node, uint32_t node_len, const uint8_t **pods, const uint32_t *pod_lens,
             uint32_t npods) {
	if (id >= MAX_NODES)
		return 1;
	node_sums s;
	memset(&s, 0, sizeof s);
	s.present = 1;
	json j = {node, node + node_len, 0};
	uint32_t klen;
	int first = 1;
	if (!json_begin(&j, '{'))
		return 1;
	while (!j.err && json_next(&j, '}', &first)) {
		const uint8_t *k = json_key(&j, &klen);
		if (!key_is(k, klen, "status")) {
			json_skip(&j);
			continue;
		}
		int f2 = 1;
		if (!json_begin(&j, '{'))
			continue;
		while (!j.err && json_next(&j, '}', &f2)) {
			const uint8_t *sk = json_key(&j, &klen);
			if (key_is(sk, klen, "allocatable")) {
				request a;
				if (!read_list(&j, &a))
					s.invalid = 1;
				s.alloc_cpu = a.cpu, s.alloc_mem = a.mem;
			} else {
				json_skip(&j);
			}
		}
	}
	if (j.err)
		return 1;
	for (uint32_t i = 0; i < npods && !s.invalid; i++) {
		request r;
		int finished;
		if (!pod_request(pods[i], pod_lens[i], &r, &finished)) {
			s.invalid = 1;
			break;
		}
		if (!finished) {
			s.used.cpu += r.cpu;
			s.used.mem += r.mem;
		}
	}
	nodes[id] = s;
	return 0;
}

void node_remove(uint32_t id) {
	if (id < MAX_NODES)
		nodes[id].present = 0;
}

int prefilter(const uint8_t *pod, uint32_t len) {
	int finished;
	incoming_invalid = !pod_request(pod, len, &incoming, &finished);
	return 0;
}

uint32_t filter(uint32_t id, const char **reason) {
	if (id >= MAX_NODES || !nodes[id].present)
		return *reason = "unknown node", CODE_ERROR;
	const node_sums *s = &nodes[id];
	if (incoming_invalid)
		return *reason = "pod has a malformed resource request", CODE_UNRESOLVABLE;
	if (s->invalid)
		return *reason = "node has a malformed allocatable or pod request", CODE_UNRESOLVABLE;
	if (incoming.cpu > 0 && s->used.cpu + incoming.cpu > s->alloc_cpu)
		return *reason = "Insufficient cpu", CODE_UNSCHEDULABLE;
	if (incoming.mem > 0 && s->used.mem + incoming.mem > s->alloc_mem)
		return *reason = "Insufficient memory", CODE_UNSCHEDULABLE;
	return 0;
}
