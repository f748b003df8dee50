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
	b = appendString(b, r.UID)
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
	b = appendString(b, r.Operation)
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
			b = appendString(b, k)
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
	b = appendString(b, k.Group)
	b = append(b, `,"version":`...)
	b = appendString(b, k.Version)
	b = append(b, `,"kind":`...)
	b = appendString(b, k.Kind)
	return append(b, '}')
}

func appendGVR(b []byte, r GroupVersionResource) []byte {
	b = append(b, `{"group":`...)
	b = appendString(b, r.Group)
	b = append(b, `,"version":`...)
	b = appendString(b, r.Version)
	b = append(b, `,"resource":`...)
	b = appendString(b, r.Resource)
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
	return appendString(b, v)
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

// appendString writes s as a JSON string: quotes, backslashes and control characters
// escaped, invalid UTF-8 replaced by U+FFFD, as encoding/json does (without its HTML
// escaping, which JSON does not need).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 are valid in JSON; encoding/json escapes them for JavaScript.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
