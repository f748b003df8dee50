/*
 * deny-latest: a tug admission plugin in C, written from hostabi/ABI.md alone.
 *
 * It denies a Pod any of whose containers (containers, initContainers, ephemeralContainers)
 * runs an image with the tag "latest" or with no tag at all, and allows everything else.
 * See README.md for what the small JSON scanner below does and does not do.
 *
 * Build (WASI reactor; the export_name/import_module attributes below do the exporting):
 *   clang --target=wasm32-wasi -O2 -mexec-model=reactor -Wl,--strip-all -o deny_latest.wasm deny_latest.c
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT(name) __attribute__((export_name(name)))
#define IMPORT(name) __attribute__((import_module("tug:host/v1"), import_name(name)))

/* ABI.md §2, §5: the host copies the bytes at once. */
IMPORT("set_result") void set_result(const uint8_t *ptr, uint32_t len);

/* ABI.md §3 */
enum { STATUS_OK = 0, STATUS_ERROR = 1, STATUS_INVALID_INPUT = 2 };

/* ABI.md §1: (major << 16) | minor, v1.0. */
EXPORT("tug_abi_version") int32_t tug_abi_version(void) { return 0x00010000; }

/* ABI.md §2: one input region, reused (and grown) from call to call. */
static uint8_t *inbuf;
static size_t incap;

EXPORT("tug_alloc") uint8_t *tug_alloc(uint32_t size) {
	size_t want = size ? size : 1;
	if (inbuf == NULL || want > incap) {
		free(inbuf);
		inbuf = malloc(want);
		incap = inbuf ? want : 0;
	}
	return inbuf; /* NULL (0) means out of memory */
}

/* ---- a small, validating JSON scanner that follows only the paths it needs ---- */

/* What a value is, by its path in the AdmissionRequest. */
enum ctx {
	V_OTHER,
	V_ROOT,      /* the request */
	V_KIND,      /* .kind */
	V_KIND_KIND, /* .kind.kind */
	V_OBJECT,    /* .object */
	V_SPEC,      /* .object.spec */
	V_CLIST,     /* .object.spec.{containers,initContainers,ephemeralContainers} */
	V_CONTAINER, /* one element of those */
	V_IMAGE,     /* its .image */
};

#define MAX_DEPTH 128
#define KEY_MAX 32 /* longer keys are none of the ones we look for */

typedef struct {
	const uint8_t *start, *p, *end;
	const char *err; /* set on the first error */
	int depth;
	int is_pod;
	char *bad; /* the first offending image, decoded; malloc'd */
	size_t bad_len;
	int oom;
} scanner;

static int fail(scanner *s, const char *msg) {
	if (!s->err)
		s->err = msg;
	return 0;
}

static void skip_ws(scanner *s) {
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int hexval(uint8_t c) {
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int hex4(scanner *s, uint32_t *out) {
	uint32_t v = 0;
	if (s->end - s->p < 4)
		return fail(s, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		int h = hexval(s->p[i]);
		if (h < 0)
			return fail(s, "bad \\u escape");
		v = v << 4 | (uint32_t)h;
	}
	s->p += 4;
	*out = v;
	return 1;
}

/* put appends one byte to out (when out is not NULL and there is room) and counts it. */
static void put(uint8_t *out, size_t cap, size_t *n, int *overflow, uint8_t c) {
	if (out) {
		if (*n < cap)
			out[*n] = c;
		else
			*overflow = 1;
	}
	(*n)++;
}

static void put_rune(uint8_t *out, size_t cap, size_t *n, int *overflow, uint32_t r) {
	if (r < 0x80) {
		put(out, cap, n, overflow, (uint8_t)r);
	} else if (r < 0x800) {
		put(out, cap, n, overflow, (uint8_t)(0xC0 | r >> 6));
		put(out, cap, n, overflow, (uint8_t)(0x80 | (r & 0x3F)));
	} else if (r < 0x10000) {
		put(out, cap, n, overflow, (uint8_t)(0xE0 | r >> 12));
		put(out, cap, n, overflow, (uint8_t)(0x80 | (r >> 6 & 0x3F)));
		put(out, cap, n, overflow, (uint8_t)(0x80 | (r & 0x3F)));
	} else {
		put(out, cap, n, overflow, (uint8_t)(0xF0 | r >> 18));
		put(out, cap, n, overflow, (uint8_t)(0x80 | (r >> 12 & 0x3F)));
		put(out, cap, n, overflow, (uint8_t)(0x80 | (r >> 6 & 0x3F)));
		put(out, cap, n, overflow, (uint8_t)(0x80 | (r & 0x3F)));
	}
}

/*
 * string reads a JSON string at s->p (which is at the opening quote), decoding it into out
 * (up to cap bytes; *overflow is set if it did not fit) when out is not NULL. *n is the
 * decoded length either way.
 */
static int string(scanner *s, uint8_t *out, size_t cap, size_t *n, int *overflow) {
	*n = 0;
	*overflow = 0;
	s->p++; /* opening quote */
	for (;;) {
		if (s->p >= s->end)
			return fail(s, "unterminated string");
		uint8_t c = *s->p++;
		if (c == '"')
			return 1;
		if (c < 0x20)
			return fail(s, "control character in string");
		if (c != '\\') {
			put(out, cap, n, overflow, c);
			continue;
		}
		if (s->p >= s->end)
			return fail(s, "unterminated string");
		c = *s->p++;
		switch (c) {
		case '"': case '\\': case '/':
			put(out, cap, n, overflow, c);
			break;
		case 'b': put(out, cap, n, overflow, '\b'); break;
		case 'f': put(out, cap, n, overflow, '\f'); break;
		case 'n': put(out, cap, n, overflow, '\n'); break;
		case 'r': put(out, cap, n, overflow, '\r'); break;
		case 't': put(out, cap, n, overflow, '\t'); break;
		case 'u': {
			uint32_t r;
			if (!hex4(s, &r))
				return 0;
			if (r >= 0xD800 && r < 0xDC00 && s->end - s->p >= 6 && s->p[0] == '\\' && s->p[1] == 'u') {
				const uint8_t *save = s->p;
				uint32_t lo;
				s->p += 2;
				if (!hex4(s, &lo))
					return 0;
				if (lo >= 0xDC00 && lo < 0xE000)
					r = 0x10000 + ((r - 0xD800) << 10) + (lo - 0xDC00);
				else
					s->p = save; /* not a pair: the second escape stands alone */
			}
			if (r >= 0xD800 && r < 0xE000)
				r = 0xFFFD; /* a lone surrogate, as Go's encoding/json decodes it */
			put_rune(out, cap, n, overflow, r);
			break;
		}
		default:
			return fail(s, "bad escape in string");
		}
	}
}

static int literal(scanner *s, const char *word) {
	size_t n = strlen(word);
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return fail(s, "invalid literal");
	s->p += n;
	return 1;
}

static int digits(scanner *s) {
	const uint8_t *from = s->p;
	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > from;
}

static int number(scanner *s) {
	if (*s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (!digits(s))
		return fail(s, "invalid number");
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!digits(s))
			return fail(s, "invalid number");
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!digits(s))
			return fail(s, "invalid number");
	}
	return 1;
}

static int key_is(const uint8_t *k, size_t n, int overflow, const char *want) {
	return !overflow && n == strlen(want) && memcmp(k, want, n) == 0;
}

/* member_ctx is what the value of member key of an object in context c is. */
static enum ctx member_ctx(enum ctx c, const uint8_t *k, size_t n, int overflow) {
	switch (c) {
	case V_ROOT:
		if (key_is(k, n, overflow, "kind"))
			return V_KIND;
		if (key_is(k, n, overflow, "object"))
			return V_OBJECT;
		break;
	case V_KIND:
		if (key_is(k, n, overflow, "kind"))
			return V_KIND_KIND;
		break;
	case V_OBJECT:
		if (key_is(k, n, overflow, "spec"))
			return V_SPEC;
		break;
	case V_SPEC:
		if (key_is(k, n, overflow, "containers") || key_is(k, n, overflow, "initContainers") ||
		    key_is(k, n, overflow, "ephemeralContainers"))
			return V_CLIST;
		break;
	case V_CONTAINER:
		if (key_is(k, n, overflow, "image"))
			return V_IMAGE;
		break;
	default:
		break;
	}
	return V_OTHER;
}

/*
 * uses_latest: the image reference has the tag "latest" or no tag. The tag is what follows
 * the last ':' after the last '/' ("registry:5000/web" has none). A reference pinned by
 * digest ("web@sha256:…") does not float, so it passes whatever its tag.
 */
static int uses_latest(const char *img, size_t n) {
	if (n == 0 || memchr(img, '@', n))
		return 0;
	size_t name = 0;
	for (size_t i = 0; i < n; i++)
		if (img[i] == '/')
			name = i + 1;
	const char *colon = memchr(img + name, ':', n - name);
	if (!colon)
		return 1;
	size_t tag = (size_t)(colon + 1 - img);
	return n - tag == 6 && memcmp(img + tag, "latest", 6) == 0;
}

static int value(scanner *s, enum ctx c);

static int image(scanner *s) {
	const uint8_t *at = s->p;
	size_t n;
	int overflow;
	if (!string(s, NULL, 0, &n, &overflow)) /* validate and measure */
		return 0;
	if (s->bad)
		return 1; /* already have one to report */
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf) {
		s->oom = 1;
		return fail(s, "out of memory");
	}
	s->p = at;
	string(s, buf, n, &n, &overflow);
	if (uses_latest((const char *)buf, n)) {
		s->bad = (char *)buf;
		s->bad_len = n;
	} else {
		free(buf);
	}
	return 1;
}

static int object(scanner *s, enum ctx c) {
	s->p++; /* { */
	skip_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return 1;
	}
	for (;;) {
		uint8_t key[KEY_MAX];
		size_t n;
		int overflow;
		skip_ws(s);
		if (s->p >= s->end || *s->p != '"')
			return fail(s, "expected a member name");
		if (!string(s, key, sizeof key, &n, &overflow))
			return 0;
		skip_ws(s);
		if (s->p >= s->end || *s->p != ':')
			return fail(s, "expected ':'");
		s->p++;
		if (!value(s, member_ctx(c, key, n, overflow)))
			return 0;
		skip_ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == '}') {
			s->p++;
			return 1;
		}
		return fail(s, "expected ',' or '}'");
	}
}

static int array(scanner *s, enum ctx c) {
	enum ctx elem = c == V_CLIST ? V_CONTAINER : V_OTHER;
	s->p++; /* [ */
	skip_ws(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		return 1;
	}
	for (;;) {
		if (!value(s, elem))
			return 0;
		skip_ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == ']') {
			s->p++;
			return 1;
		}
		return fail(s, "expected ',' or ']'");
	}
}

static int value(scanner *s, enum ctx c) {
	skip_ws(s);
	if (s->p >= s->end)
		return fail(s, "unexpected end of input");
	switch (*s->p) {
	case '{':
	case '[': {
		if (++s->depth > MAX_DEPTH)
			return fail(s, "nested too deeply");
		int ok = *s->p == '{' ? object(s, c) : array(s, c);
		s->depth--;
		return ok;
	}
	case '"': {
		if (c == V_IMAGE)
			return image(s);
		uint8_t buf[KEY_MAX];
		size_t n;
		int overflow;
		if (!string(s, c == V_KIND_KIND ? buf : NULL, sizeof buf, &n, &overflow))
			return 0;
		if (c == V_KIND_KIND)
			s->is_pod = key_is(buf, n, overflow, "Pod");
		return 1;
	}
	case 't': return literal(s, "true");
	case 'f': return literal(s, "false");
	case 'n': return literal(s, "null");
	default:
		if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
			return number(s);
		return fail(s, "unexpected character");
	}
}

/* ---- output ---- */

typedef struct {
	uint8_t *b;
	size_t n;
} out;

static void add(out *o, const char *str, size_t n) {
	memcpy(o->b + o->n, str, n);
	o->n += n;
}

static void adds(out *o, const char *str) { add(o, str, strlen(str)); }

/* add_json_text appends str as the inside of a JSON string (needs up to 6 bytes per byte). */
static void add_json_text(out *o, const char *str, size_t n) {
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)str[i];
		if (c == '"' || c == '\\') {
			o->b[o->n++] = '\\';
			o->b[o->n++] = c;
		} else if (c < 0x20) {
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			add(o, e, 6);
		} else {
			o->b[o->n++] = c;
		}
	}
}

static void add_uint(out *o, size_t v) {
	char d[24];
	int i = sizeof d;
	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	add(o, d + i, sizeof d - (size_t)i);
}

static int32_t reply(const char *text) {
	set_result((const uint8_t *)text, (uint32_t)strlen(text));
	return STATUS_OK;
}

/* ABI.md §4.5 */
EXPORT("tug_admit") int32_t tug_admit(const uint8_t *ptr, uint32_t len) {
	scanner s = {.start = ptr, .p = ptr, .end = ptr + len};
	skip_ws(&s);
	if (s.p >= s.end || *s.p != '{') {
		fail(&s, "the request is not a JSON object");
	} else if (value(&s, V_ROOT)) {
		skip_ws(&s);
		if (s.p != s.end)
			fail(&s, "data after the request");
	}

	int32_t status;
	if (s.err) {
		/* INVALID_INPUT with a reason (ABI.md §3): "invalid admission request at byte N: why". */
		static uint8_t msg[160];
		out o = {msg, 0};
		adds(&o, "invalid admission request at byte ");
		add_uint(&o, (size_t)(s.p - s.start));
		adds(&o, ": ");
		adds(&o, s.err);
		set_result(o.b, (uint32_t)o.n);
		status = s.oom ? STATUS_ERROR : STATUS_INVALID_INPUT;
	} else if (s.is_pod && s.bad) {
		static const char head[] = "{\"allowed\":false,\"status\":{\"code\":403,\"message\":\"image ";
		static const char tail[] = " uses the latest tag\"}}";
		uint8_t *buf = malloc(sizeof head + sizeof tail + 6 * s.bad_len);
		if (!buf) {
			set_result((const uint8_t *)"out of memory", 13);
			status = STATUS_ERROR;
		} else {
			out o = {buf, 0};
			adds(&o, head);
			add_json_text(&o, s.bad, s.bad_len);
			adds(&o, tail);
			set_result(o.b, (uint32_t)o.n);
			free(buf);
			status = STATUS_OK;
		}
	} else {
		status = reply("{\"allowed\":true}");
	}
	free(s.bad);
	return status;
}
