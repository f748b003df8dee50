package jsonwrite

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"

	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/sdk/go/jsonread"
)

// AppendString appends s as a JSON string, as encoding/json writes it (the host's writer,
// hostabi.AppendJSONString, shared so the two sides of the ABI agree).
func AppendString(b []byte, s string) []byte { return hostabi.AppendJSONString(b, s) }

// AppendValue appends v as JSON, as json.Marshal would encode it. Strings, booleans,
// integers, nil, json.RawMessage, json.Marshalers, and the maps (with string keys) and
// slices of these — []string, map[string]string, []any, map[string]any,
// []json.RawMessage — are written directly; anything else (a struct, a float) goes
// through json.Marshal.
func AppendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return AppendString(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int8:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int16:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int32:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case uint:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint8:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint16:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint64:
		return strconv.AppendUint(b, v, 10), nil
	case json.RawMessage:
		return AppendRaw(b, v)
	case []string:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, s)
		}
		return append(b, ']'), nil
	case map[string]string:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '{')
		for i, k := range slices.Sorted(maps.Keys(v)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(AppendString(b, k), ':')
			b = AppendString(b, v[k])
		}
		return append(b, '}'), nil
	case []any:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		var err error
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = AppendValue(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case []json.RawMessage:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		var err error
		for i, raw := range v {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = AppendRaw(b, raw); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '{')
		var err error
		for i, k := range slices.Sorted(maps.Keys(v)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(AppendString(b, k), ':')
			if b, err = AppendValue(b, v[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case json.Marshaler:
		// A nil pointer is null: its MarshalJSON may not expect to be called on nil.
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
			return append(b, "null"...), nil
		}
		raw, err := v.MarshalJSON()
		if err != nil {
			return nil, err
		}
		return AppendRaw(b, raw)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, raw...), nil
}

// ErrInvalidRaw is the error of raw JSON that is not one well-formed JSON value.
var ErrInvalidRaw = errors.New("raw JSON is not a well-formed JSON value")

// AppendRaw appends raw, which must be one well-formed JSON value; nil appends null, as
// encoding/json writes a nil json.RawMessage.
func AppendRaw(b []byte, raw []byte) ([]byte, error) {
	if raw == nil {
		return append(b, "null"...), nil
	}
	r := jsonread.New(raw)
	r.Skip()
	if err := r.End(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRaw, err)
	}
	return append(b, raw...), nil
}
