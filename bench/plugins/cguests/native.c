/* native plays the host for a C guest built natively: it loads the workload the bench wrote
 * (nodes.json, pod.json, ids.bin), then times cycles of prefilter + filter, as the wasm side
 * does, and prints "<ns per cycle> <rejected nodes>".
 *
 *   native DIR CYCLES */
#include "sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const uint8_t *res;
static uint32_t res_len;

void set_result(const uint8_t *ptr, uint32_t len) { res = ptr, res_len = len; }

static uint8_t *slurp(const char *dir, const char *name, uint32_t *len) {
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		perror(path), exit(1);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc((size_t)n + 1);
	if (!b || fread(b, 1, (size_t)n, f) != (size_t)n)
		perror(path), exit(1);
	fclose(f);
	*len = (uint32_t)n;
	return b;
}

/* call copies the input into guest memory through tug_alloc, as the host does. */
static int32_t call(int32_t (*fn)(const uint8_t *, uint32_t), const uint8_t *in, uint32_t n) {
	uint8_t *p = tug_alloc(n);
	memcpy(p, in, n);
	return fn(p, n);
}

static uint32_t cycle(const uint8_t *pod, uint32_t pod_len, const uint8_t *ids, uint32_t ids_len) {
	if (call(tug_sched_prefilter, pod, pod_len) != STATUS_OK || call(tug_sched_filter, ids, ids_len) != STATUS_OK)
		fprintf(stderr, "call failed: %.*s\n", (int)res_len, res), exit(1);
	uint32_t rejected;
	memcpy(&rejected, res, 4);
	return rejected;
}

int main(int argc, char **argv) {
	if (argc != 3)
		return fprintf(stderr, "usage: native DIR CYCLES\n"), 2;
	uint32_t nodes_len, pod_len, ids_len;
	uint8_t *nodes = slurp(argv[1], "nodes.json", &nodes_len);
	uint8_t *pod = slurp(argv[1], "pod.json", &pod_len);
	uint8_t *ids = slurp(argv[1], "ids.bin", &ids_len);
	int cycles = atoi(argv[2]);
	if (tug_sched_nodes(nodes, nodes_len) != STATUS_OK) /* large: no copy needed natively */
		return fprintf(stderr, "tug_sched_nodes: %.*s\n", (int)res_len, res), 1;
	uint32_t rejected = 0;
	for (int i = 0; i < 20; i++)
		rejected = cycle(pod, pod_len, ids, ids_len);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < cycles; i++)
		cycle(pod, pod_len, ids, ids_len);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / cycles;
	printf("%.0f %u\n", ns, rejected);
	return 0;
}
