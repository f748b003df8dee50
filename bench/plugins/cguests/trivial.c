/* The trivial filter in C: every resident node passes. Like the Go one, it keeps a table of
 * the resident nodes (here, which ids are present) and looks each candidate up. */
#include "sched.h"

#define MAX_NODES 65536
static uint8_t present[MAX_NODES];

int node_set(uint32_t id, const uint8_t *node, uint32_t node_len, const uint8_t **pods, const uint32_t *pod_lens,
             uint32_t npods) {
	(void)node, (void)node_len, (void)pods, (void)pod_lens, (void)npods;
	if (id >= MAX_NODES)
		return 1;
	present[id] = 1;
	return 0;
}

void node_remove(uint32_t id) {
	if (id < MAX_NODES)
		present[id] = 0;
}

int prefilter(const uint8_t *pod, uint32_t len) {
	(void)pod, (void)len;
	return 0;
}

uint32_t filter(uint32_t id, const char **reason) {
	if (id >= MAX_NODES || !present[id])
		return *reason = "unknown node", CODE_ERROR;
	return 0;
}
