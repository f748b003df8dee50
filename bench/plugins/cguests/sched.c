#include "sched.h"

#include <stdlib.h>
#include <string.h>

EXPORT("tug_abi_version") int32_t tug_abi_version(void) { return 0x00010000; }

/* One input region, reused and grown (ABI.md §2). */
static uint8_t *inbuf;
static size_t incap;

EXPORT("tug_alloc") uint8_t *tug_alloc(uint32_t size) {
	size_t want = size ? size : 1;
	if (inbuf == NULL || want > incap) {
		free(inbuf);
		inbuf = malloc(want);
		incap = inbuf ? want : 0;
	}
	return inbuf;
}

static void result(const char *msg) { set_result((const uint8_t *)msg, (uint32_t)strlen(msg)); }

/* ---- JSON ---- */

void json_ws(json *j) {
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int lit(json *j, const char *w) {
	size_t n = strlen(w);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
		return j->err = 1, 0;
	j->p += n;
	return 1;
}

int json_begin(json *j, char open) {
	json_ws(j);
	if (j->p < j->end && *j->p == open)
		return j->p++, 1;
	if (j->p < j->end && *j->p == 'n')
		return lit(j, "null"), 0;
	return j->err = 1, 0;
}

int json_next(json *j, char close, int *first) {
	json_ws(j);
	if (j->err || j->p >= j->end)
		return j->err = 1, 0;
	if (*j->p == close)
		return j->p++, 0;
	if (!*first) {
		if (*j->p != ',')
			return j->err = 1, 0;
		j->p++;
	}
	*first = 0;
	return 1;
}

const uint8_t *json_str(json *j, uint32_t *len) {
	json_ws(j);
	if (j->p >= j->end || *j->p != '"')
		return j->err = 1, NULL;
	const uint8_t *s = ++j->p;
	while (j->p < j->end && *j->p != '"') {
		if (*j->p == '\\')
			j->p++;
		j->p++;
	}
	if (j->p >= j->end)
		return j->err = 1, NULL;
	*len = (uint32_t)(j->p - s);
	j->p++;
	return s;
}

const uint8_t *json_key(json *j, uint32_t *len) {
	const uint8_t *k = json_str(j, len);
	json_ws(j);
	if (j->err || j->p >= j->end || *j->p != ':')
		return j->err = 1, NULL;
	j->p++;
	return k;
}

void json_skip(json *j) {
	json_ws(j);
	if (j->p >= j->end) {
		j->err = 1;
		return;
	}
	uint32_t n;
	int first = 1;
	switch (*j->p) {
	case '{':
		j->p++;
		while (!j->err && json_next(j, '}', &first)) {
			json_key(j, &n);
			json_skip(j);
		}
		return;
	case '[':
		j->p++;
		while (!j->err && json_next(j, ']', &first))
			json_skip(j);
		return;
	case '"':
		json_str(j, &n);
		return;
	case 't':
		lit(j, "true");
		return;
	case 'f':
		lit(j, "false");
		return;
	case 'n':
		lit(j, "null");
		return;
	}
	const uint8_t *s = j->p;
	while (j->p < j->end && (*j->p == '-' || *j->p == '+' || *j->p == '.' || *j->p == 'e' || *j->p == 'E' ||
	                         (*j->p >= '0' && *j->p <= '9')))
		j->p++;
	if (j->p == s)
		j->err = 1;
}

int json_u32(json *j, uint32_t *v) {
	json_ws(j);
	uint64_t x = 0;
	const uint8_t *s = j->p;
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9' && x <= 0xffffffffu)
		x = x * 10 + (uint64_t)(*j->p++ - '0');
	if (j->p == s || x > 0xffffffffu)
		return j->err = 1, 0;
	*v = (uint32_t)x;
	return 1;
}

int key_is(const uint8_t *k, uint32_t len, const char *want) {
	return strlen(want) == len && memcmp(k, want, len) == 0;
}

/* ---- quantities ---- */

static int mul(int64_t a, int64_t b, int64_t *out) { return !__builtin_mul_overflow(a, b, out); }

int quantity(const uint8_t *s, uint32_t len, int64_t unit, int64_t *out) {
	const uint8_t *p = s, *end = s + len;
	int neg = 0;
	if (p < end && (*p == '+' || *p == '-'))
		neg = *p++ == '-';
	int64_t m = 0;
	int e10 = 0, digits = 0;
	for (; p < end && *p >= '0' && *p <= '9'; p++, digits++)
		if (!mul(m, 10, &m) || __builtin_add_overflow(m, *p - '0', &m))
			return 0;
	if (p < end && *p == '.')
		for (p++; p < end && *p >= '0' && *p <= '9'; p++, digits++, e10--)
			if (!mul(m, 10, &m) || __builtin_add_overflow(m, *p - '0', &m))
				return 0;
	if (digits == 0)
		return 0;
	int64_t bin = 1;
	uint32_t rest = (uint32_t)(end - p);
	if (rest == 2 && p[1] == 'i') {
		const char *b = "KMGTPE";
		const char *f = memchr(b, p[0], 6);
		if (!f)
			return 0;
		bin = (int64_t)1 << (10 * (f - b + 1));
	} else if (rest == 1) {
		switch (*p) {
		case 'n': e10 -= 9; break;
		case 'u': e10 -= 6; break;
		case 'm': e10 -= 3; break;
		case 'k': e10 += 3; break;
		case 'M': e10 += 6; break;
		case 'G': e10 += 9; break;
		case 'T': e10 += 12; break;
		case 'P': e10 += 15; break;
		case 'E': e10 += 18; break;
		default: return 0;
		}
	} else if (rest > 1 && (*p == 'e' || *p == 'E')) {
		int sign = 1, x = 0;
		p++;
		if (*p == '+' || *p == '-')
			sign = *p++ == '-' ? -1 : 1;
		if (p >= end)
			return 0;
		for (; p < end; p++) {
			if (*p < '0' || *p > '9' || x > 100)
				return 0;
			x = x * 10 + (*p - '0');
		}
		e10 += sign * x;
	} else if (rest != 0) {
		return 0;
	}
	if (neg)
		m = -m;
	int64_t v;
	if (!mul(m, bin, &v) || !mul(v, unit, &v))
		return 0;
	for (; e10 > 0; e10--)
		if (!mul(v, 10, &v))
			return 0;
	if (e10 < 0) {
		int64_t d = 1;
		for (; e10 < 0; e10++)
			if (!mul(d, 10, &d))
				return v == 0 ? (*out = 0, 1) : 0;
		int64_t q = v / d;
		if (v % d != 0 && v > 0)
			q++; /* round up */
		v = q;
	}
	*out = v;
	return 1;
}

/* ---- the exports ---- */

#define MAX_PODS 1024

EXPORT("tug_sched_nodes") int32_t tug_sched_nodes(const uint8_t *in, uint32_t n) {
	json j = {in, in + n, 0};
	static const uint8_t *pods[MAX_PODS];
	static uint32_t pod_lens[MAX_PODS];
	uint32_t klen;
	int first = 1;
	if (!json_begin(&j, '{'))
		return result("node changes: not a JSON object"), STATUS_INVALID_INPUT;
	while (!j.err && json_next(&j, '}', &first)) {
		const uint8_t *k = json_key(&j, &klen);
		int f2 = 1;
		if (key_is(k, klen, "remove")) {
			if (json_begin(&j, '['))
				while (!j.err && json_next(&j, ']', &f2)) {
					uint32_t id;
					if (json_u32(&j, &id))
						node_remove(id);
				}
		} else if (key_is(k, klen, "set")) {
			if (json_begin(&j, '['))
				while (!j.err && json_next(&j, ']', &f2)) {
					uint32_t id = 0, npods = 0, node_len = 0;
					const uint8_t *node = NULL;
					int f3 = 1, has_id = 0;
					if (!json_begin(&j, '{'))
						break;
					while (!j.err && json_next(&j, '}', &f3)) {
						const uint8_t *ek = json_key(&j, &klen);
						if (key_is(ek, klen, "id")) {
							has_id = json_u32(&j, &id);
						} else if (key_is(ek, klen, "node")) {
							json_ws(&j);
							node = j.p;
							json_skip(&j);
							node_len = (uint32_t)(j.p - node);
						} else if (key_is(ek, klen, "pods")) {
							int f4 = 1;
							if (json_begin(&j, '['))
								while (!j.err && json_next(&j, ']', &f4)) {
									json_ws(&j);
									if (npods == MAX_PODS)
										return result("more pods on a node than this plugin keeps"), STATUS_INVALID_INPUT;
									pods[npods] = j.p;
									json_skip(&j);
									pod_lens[npods] = (uint32_t)(j.p - pods[npods]);
									npods++;
								}
						} else {
							json_skip(&j);
						}
					}
					if (j.err || !has_id || !node)
						return result("node changes: a malformed node entry"), STATUS_INVALID_INPUT;
					if (node_set(id, node, node_len, pods, pod_lens, npods) != 0)
						return result("node changes: a node this plugin cannot keep"), STATUS_INVALID_INPUT;
				}
		} else {
			json_skip(&j);
		}
	}
	if (j.err)
		return result("node changes: malformed JSON"), STATUS_INVALID_INPUT;
	return STATUS_OK;
}

EXPORT("tug_sched_prefilter") int32_t tug_sched_prefilter(const uint8_t *in, uint32_t n) {
	if (prefilter(in, n) != 0)
		return result("malformed pod"), STATUS_INVALID_INPUT;
	return STATUS_OK;
}

static uint8_t *out;
static size_t outcap;

static int reserve(size_t need) {
	if (need <= outcap)
		return 1;
	size_t c = outcap ? outcap * 2 : 4096;
	while (c < need)
		c *= 2;
	uint8_t *p = realloc(out, c);
	if (!p)
		return 0;
	out = p, outcap = c;
	return 1;
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); } /* wasm32 and x86 are little-endian */

EXPORT("tug_sched_filter") int32_t tug_sched_filter(const uint8_t *in, uint32_t n) {
	uint32_t count;
	if (n < 4 || (memcpy(&count, in, 4), (uint64_t)n != 4 + 4 * (uint64_t)count))
		return result("malformed node-id frame"), STATUS_INVALID_INPUT;
	if (!reserve(4))
		return result("out of memory"), STATUS_ERROR;
#ifdef ACCEPT_ALL
	/* accept-c (trivial.c built with ACCEPT_ALL): it rejects no node, so it visits none. What
	 * it costs per pod is what the host and the ABI cost around any filter. */
	put32(out, 0);
	set_result(out, 4);
	return STATUS_OK;
#endif
	size_t len = 4;
	uint32_t rejected = 0;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t id;
		memcpy(&id, in + 4 + 4 * i, 4);
		const char *reason = NULL;
		uint32_t code = filter(id, &reason);
		if (code == 0)
			continue;
		uint32_t rl = (uint32_t)strlen(reason);
		if (!reserve(len + 12 + rl))
			return result("out of memory"), STATUS_ERROR;
		put32(out + len, id);
		put32(out + len + 4, code);
		put32(out + len + 8, rl);
		memcpy(out + len + 12, reason, rl);
		len += 12 + rl;
		rejected++;
	}
	put32(out, rejected);
	set_result(out, (uint32_t)len);
	return STATUS_OK;
}
