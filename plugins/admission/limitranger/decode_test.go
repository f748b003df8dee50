package limitranger

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/tugboat-io/tug/plugins/internal/quantity"
	"github.com/tugboat-io/tug/plugins/internal/quota"
)

// plainLimitRange is a LimitRange as encoding/json decodes it by reflection: the reference
// the decoder is held to.
type plainLimitRange struct {
	Spec struct {
		Limits []struct {
			Type                 string        `json:"type"`
			Max                  quantity.List `json:"max"`
			Min                  quantity.List `json:"min"`
			Default              quantity.List `json:"default"`
			DefaultRequest       quantity.List `json:"defaultRequest"`
			MaxLimitRequestRatio quantity.List `json:"maxLimitRequestRatio"`
		} `json:"limits"`
	} `json:"spec"`
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, doc := range []string{
		`{"apiVersion":"v1","kind":"LimitRange","metadata":{"name":"lr","namespace":"dev"},"spec":{"limits":[{"type":"Container","default":{"cpu":"500m","memory":"256Mi"},"defaultRequest":{"cpu":"100m"},"max":{"cpu":2},"min":{"memory":"4Mi"},"maxLimitRequestRatio":{"cpu":"4"}},{"type":"Pod","max":null,"min":{}}]}}`,
		`{}`, `null`, `{"spec":null}`, `{"spec":{"limits":null}}`, `{"spec":{"limits":[]}}`, ` { "spec" : { "limits" : [ { } ] } } `,
	} {
		var plain plainLimitRange
		if err := json.Unmarshal([]byte(doc), &plain); err != nil {
			t.Fatalf("encoding/json refuses %s: %v", doc, err)
		}
		var want limitRange
		if plain.Spec.Limits != nil {
			want.Limits = []item{}
		}
		for _, l := range plain.Spec.Limits {
			want.Limits = append(want.Limits, item(l))
		}
		got, err := quota.Decode[limitRange]([]byte(doc))
		if err != nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("decode %s: %+v, %v; want %+v", doc, got, err, want)
		}
	}
	for _, bad := range []string{``, `[]`, `{"spec":[]}`, `{"spec":{"limits":{}}}`, `{"spec":{"limits":[{"max":{"cpu":"x"}}]}}`, `{"spec":{"limits":[{"type":1}]}}`, `{"spec":null,}`} {
		if lr, err := quota.Decode[limitRange]([]byte(bad)); err == nil {
			t.Errorf("decode %s = %+v, want an error", bad, lr)
		}
	}
}
