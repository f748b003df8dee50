package hostabi

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// AppendAdmissionRequest appends r as the JSON of ABI.md §4.5, as encoding/json would write
// it, but without reflection and copying the raw members (object, oldObject, options, config,
// related objects) as they are: the host calls a chain of policies per request, each with the
// same object, and checking and compacting it again for each is what encoding/json would do.
// The raw members must be valid JSON; the host's own encodings are.
func AppendAdmissionRequest(b []byte, r *AdmissionRequest) []byte {
	b = append(b, `{"uid":`...)
	b = AppendJSONString(b, r.UID)
	b = append(b, `,"kind":`...)
	b = appendGVK(b, r.Kind)
	b = append(b, `,"resource":`...)
	b = appendGVR(b, r.Resource)
	b = appendOptString(b, "subResource", r.SubResource)
	if r.RequestKind != nil {
		b = append(b, `,"requestKind":`...)
		b = appendGVK(b, *r.RequestKind)
	}
	if r.RequestResource != nil {
		b = append(b, `,"requestResource":`...)
		b = appendGVR(b, *r.RequestResource)
	}
	b = appendOptString(b, "requestSubResource", r.RequestSubResource)
	b = appendOptString(b, "name", r.Name)
	b = appendOptString(b, "namespace", r.Namespace)
	b = append(b, `,"operation":`...)
	b = AppendJSONString(b, r.Operation)
	b = append(b, `,"userInfo":`...)
	b = appendUserInfo(b, &r.UserInfo)
	b = appendOptRaw(b, "object", r.Object)
	b = appendOptRaw(b, "oldObject", r.OldObject)
	if r.DryRun != nil {
		b = append(b, `,"dryRun":`...)
		b = strconv.AppendBool(b, *r.DryRun)
	}
	b = appendOptRaw(b, "options", r.Options)
	b = appendOptString(b, "policy", r.Policy)
	b = appendOptRaw(b, "config", r.Config)
	if len(r.Related) > 0 {
		b = append(b, `,"related":{`...)
		keys := make([]string, 0, len(r.Related))
		for k := range r.Related {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendJSONString(b, k)
			b = append(b, ':')
			objs := r.Related[k]
			if objs == nil {
				b = append(b, "null"...)
				continue
			}
			b = append(b, '[')
			for j, o := range objs {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendRaw(b, o)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendGVK(b []byte, k GroupVersionKind) []byte {
	b = append(b, `{"group":`...)
	b = AppendJSONString(b, k.Group)
	b = append(b, `,"version":`...)
	b = AppendJSONString(b, k.Version)
	b = append(b, `,"kind":`...)
	b = AppendJSONString(b, k.Kind)
	return append(b, '}')
}

func appendGVR(b []byte, r GroupVersionResource) []byte {
	b = append(b, `{"group":`...)
	b = AppendJSONString(b, r.Group)
	b = append(b, `,"version":`...)
	b = AppendJSONString(b, r.Version)
	b = append(b, `,"resource":`...)
	b = AppendJSONString(b, r.Resource)
	return append(b, '}')
}

// appendUserInfo writes the user as encoding/json would (its tags' omitempty rules).
func appendUserInfo(b []byte, u *UserInfo) []byte {
	raw, err := json.Marshal(u)
	if err != nil { // a struct of strings cannot fail; keep the output valid regardless
		return append(b, "{}"...)
	}
	return append(b, raw...)
}

func appendOptString(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return AppendJSONString(b, v)
}

func appendOptRaw(b []byte, name string, v json.RawMessage) []byte {
	if len(v) == 0 {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendRaw(b, v)
}

func appendRaw(b []byte, v json.RawMessage) []byte {
	if len(v) == 0 {
		return append(b, "null"...)
	}
	return append(b, v...)
}

// AppendJSONString appends s as a JSON string, byte for byte as encoding/json writes it:
// quotes, backslashes and control characters escaped, and <, > and & too (encoding/json's
// HTML escaping), invalid UTF-8 replaced by U+FFFD, U+2028 and U+2029 escaped. The host's
// encoder and the SDK's (sdk/go/jsonwrite) both write strings with it.
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for len(s) > 0 {
		n := 0
		for n < len(s) && plainJSON(s[n]) {
			n++
		}
		b = append(b, s[:n]...)
		if s = s[n:]; len(s) == 0 {
			break
		}
		if c := s[0]; c < utf8.RuneSelf {
			b = appendJSONEscape(b, c)
			s = s[1:]
			continue
		}
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			// Valid in JSON but line ends in JavaScript, where JSON is often pasted.
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xf])
		default:
			b = append(b, s[:size]...)
		}
		s = s[size:]
	}
	return append(b, '"')
}

// plainJSON reports whether c is an ASCII byte a string holds as it is: printable, and
// neither a quote, a backslash, nor one of the characters HTML gives a meaning.
func plainJSON(c byte) bool {
	return c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
}

const hexDigits = "0123456789abcdef"

// appendJSONEscape appends the escape of an ASCII byte that is not plain: the short form
// where JSON has one, \u00XX otherwise.
func appendJSONEscape(b []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(b, '\\', c)
	case '\b':
		return append(b, '\\', 'b')
	case '\f':
		return append(b, '\\', 'f')
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}
