package controller

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"
)

// resettable is a fixed RESTMapper for tests.
type resettable struct{ meta.RESTMapper }

func (resettable) Reset() {}

// Every field of a built-in definition survives the trip through its Controller object,
// which is what the controller manager runs: Fresh and Coalesce were once lost on the way,
// so the ResourceQuota controller ran without its freshness rule.
func TestBuiltinsRoundTripThroughTheirObjects(t *testing.T) {
	mapper := meta.NewDefaultRESTMapper(nil)
	for _, def := range Builtins() {
		for _, k := range append(append([]Kind{def.Parent}, def.Children...), relatedKinds(def)...) {
			scope := meta.RESTScopeRoot
			if k.Namespaced {
				scope = meta.RESTScopeNamespace
			}
			gvk := schema.GroupVersionKind{Group: k.Group, Version: k.Version, Kind: k.Kind}
			mapper.AddSpecific(gvk, gvk.GroupVersion().WithResource(k.Resource), gvk.GroupVersion().WithResource(k.Resource), scope)
		}
	}
	cs := &controllerSet{mapper: resettable{mapper}}
	for _, def := range Builtins() {
		c := &pluginsv1alpha1.Controller{Spec: builtinSpec(def)}
		c.Name = def.Name
		got, err := cs.definition(c)
		if err != nil {
			t.Fatalf("%s: %v", def.Name, err)
		}
		if !reflect.DeepEqual(got, def) {
			t.Errorf("%s: from its object\n%+v\nwant\n%+v", def.Name, got, def)
		}
	}
}

func relatedKinds(def Definition) []Kind {
	var out []Kind
	for _, r := range def.Related {
		out = append(out, r.Kind)
	}
	return out
}
