package api

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// schemaOf parses a JSON schema literal.
func schemaOf(t *testing.T, js string) *apiextensionsv1.JSONSchemaProps {
	t.Helper()
	s := &apiextensionsv1.JSONSchemaProps{}
	if err := json.Unmarshal([]byte(js), s); err != nil {
		t.Fatalf("schema %s: %v", js, err)
	}
	return s
}

const testSchema = `{"type":"object","properties":{
 "spec":{"type":"object","required":["size"],"properties":{
  "replicas":{"type":"integer","minimum":0,"maximum":10},
  "size":{"type":"string","enum":["S","M","L"]},
  "name":{"type":"string","pattern":"^[a-z]+$","maxLength":8},
  "email":{"type":"string","format":"email"},
  "port":{"x-kubernetes-int-or-string":true},
  "color":{"type":"string","default":"blue"},
  "nullableColor":{"type":"string","nullable":true,"default":"red"},
  "tags":{"type":"array","x-kubernetes-list-type":"set","items":{"type":"string"}},
  "items":{"type":"array","items":{"type":"object","required":["id"],"properties":{"id":{"type":"integer"},"mode":{"type":"string","default":"auto"}}}},
  "labels":{"type":"object","additionalProperties":{"type":"string"}},
  "limits":{"type":"object","properties":{"cpu":{"type":"string","default":"1"}},"default":{}},
  "free":{"type":"object","x-kubernetes-preserve-unknown-fields":true},
  "template":{"type":"object","x-kubernetes-embedded-resource":true,"x-kubernetes-preserve-unknown-fields":true}}},
 "status":{"type":"object","properties":{"replicas":{"type":"integer"}}}}}`

func fromJSON(t *testing.T, spec string) map[string]any {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON([]byte(`{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","namespace":"default"},"spec":` + spec + `}`)); err != nil {
		t.Fatal(err)
	}
	return u.Object
}

func TestCRSchemaValidate(t *testing.T) {
	sch, err := CompileCRSchema(schemaOf(t, testSchema))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		spec  string
		field string // "" means valid
		typ   field.ErrorType
	}{
		{"valid", `{"size":"M","replicas":3,"port":8080}`, "", ""},
		{"int-or-string as string", `{"size":"M","port":"http"}`, "", ""},
		{"int-or-string as bool", `{"size":"M","port":true}`, "spec.port", field.ErrorTypeInvalid},
		{"required", `{"replicas":1}`, "spec.size", field.ErrorTypeRequired},
		{"enum", `{"size":"XL"}`, "spec.size", field.ErrorTypeNotSupported},
		{"maximum", `{"size":"S","replicas":11}`, "spec.replicas", field.ErrorTypeInvalid},
		{"minimum", `{"size":"S","replicas":-1}`, "spec.replicas", field.ErrorTypeInvalid},
		{"type", `{"size":"S","replicas":"three"}`, "spec.replicas", field.ErrorTypeInvalid},
		{"pattern", `{"size":"S","name":"ABC"}`, "spec.name", field.ErrorTypeInvalid},
		{"maxLength", `{"size":"S","name":"abcdefghij"}`, "spec.name", field.ErrorTypeTooLong},
		{"format", `{"size":"S","email":"not an email"}`, "spec.email", field.ErrorTypeInvalid},
		{"nested required in array", `{"size":"S","items":[{"id":1},{"mode":"x"}]}`, "spec.items[1].id", field.ErrorTypeRequired},
		{"additionalProperties type", `{"size":"S","labels":{"a":"b","c":1}}`, "spec.labels.c", field.ErrorTypeInvalid},
		{"list set duplicates", `{"size":"S","tags":["a","a"]}`, "spec.tags[1]", field.ErrorTypeDuplicate},
		{"embedded resource without kind", `{"size":"S","template":{"apiVersion":"v1","metadata":{"name":"x"}}}`, "spec.template.kind", field.ErrorTypeRequired},
		{"embedded resource", `{"size":"S","template":{"apiVersion":"v1","kind":"Pod"}}`, "", ""},
		{"preserved anything", `{"size":"S","free":{"x":[1,{"y":true}]}}`, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			errs := sch.Validate(fromJSON(t, c.spec))
			if c.field == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			for _, e := range errs {
				if e.Field == c.field && e.Type == c.typ {
					return
				}
			}
			t.Fatalf("want %s on %s, got %v", c.typ, c.field, errs)
		})
	}
}

func TestCRSchemaPrune(t *testing.T) {
	sch, err := CompileCRSchema(schemaOf(t, testSchema))
	if err != nil {
		t.Fatal(err)
	}
	obj := fromJSON(t, `{"size":"S","bogus":1,"items":[{"id":1,"extra":2}],"free":{"kept":true},"template":{"apiVersion":"v1","kind":"Pod","anything":1}}`)
	obj["metadata"].(map[string]any)["unknownMeta"] = "x"
	obj["topLevel"] = true
	pruned := sch.Prune(obj)
	want := []string{"metadata.unknownMeta", "spec.bogus", "spec.items[0].extra", "topLevel"}
	if !reflect.DeepEqual(pruned, want) {
		t.Fatalf("pruned %v, want %v", pruned, want)
	}
	spec := obj["spec"].(map[string]any)
	if _, ok := spec["bogus"]; ok {
		t.Fatal("spec.bogus not removed")
	}
	if spec["free"].(map[string]any)["kept"] != true || spec["template"].(map[string]any)["anything"] == nil {
		t.Fatalf("preserved fields pruned: %v", spec)
	}
	if _, ok := obj["metadata"].(map[string]any)["name"]; !ok {
		t.Fatal("metadata.name pruned")
	}
}

func TestCRSchemaDefault(t *testing.T) {
	sch, err := CompileCRSchema(schemaOf(t, testSchema))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		spec string
		want string // spec after defaulting, as JSON
	}{
		{"missing fields defaulted, nested defaults of a defaulted object too",
			`{"size":"S"}`, `{"color":"blue","limits":{"cpu":"1"},"nullableColor":"red","size":"S"}`},
		{"set fields kept", `{"size":"S","color":"green","limits":{"cpu":"2"},"nullableColor":"x"}`,
			`{"color":"green","limits":{"cpu":"2"},"nullableColor":"x","size":"S"}`},
		{"null replaced unless nullable", `{"size":"S","color":null,"nullableColor":null}`,
			`{"color":"blue","limits":{"cpu":"1"},"nullableColor":null,"size":"S"}`},
		{"array items defaulted", `{"size":"S","items":[{"id":1},{"id":2,"mode":"manual"}]}`,
			`{"color":"blue","items":[{"id":1,"mode":"auto"},{"id":2,"mode":"manual"}],"limits":{"cpu":"1"},"nullableColor":"red","size":"S"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obj := fromJSON(t, c.spec)
			sch.Default(obj)
			got, _ := json.Marshal(obj["spec"])
			if string(got) != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
}

// validCRD is the CRD every validation case starts from.
func validCRD(t *testing.T) *apiextensionsv1.CustomResourceDefinition {
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets.example.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "example.com", Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "widgets", Kind: "Widget"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: schemaOf(t, testSchema)},
				Subresources: &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{},
					Scale: &apiextensionsv1.CustomResourceSubresourceScale{SpecReplicasPath: ".spec.replicas", StatusReplicasPath: ".status.replicas"}},
				AdditionalPrinterColumns: []apiextensionsv1.CustomResourceColumnDefinition{{Name: "Replicas", Type: "integer", JSONPath: ".spec.replicas"}},
			}},
		},
	}
}

func TestValidateCRD(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*apiextensionsv1.CustomResourceDefinition)
		field  string // "" means valid
	}{
		{"valid", func(*apiextensionsv1.CustomResourceDefinition) {}, ""},
		{"name is not plural.group", func(c *apiextensionsv1.CustomResourceDefinition) { c.Name = "widget.example.com" }, "metadata.name"},
		{"group without a dot", func(c *apiextensionsv1.CustomResourceDefinition) {
			c.Spec.Group = "example"
			c.Name = "widgets.example"
		}, "spec.group"},
		{"protected group without approval", func(c *apiextensionsv1.CustomResourceDefinition) {
			c.Spec.Group = "x.k8s.io"
			c.Name = "widgets.x.k8s.io"
		}, "metadata.annotations[api-approved.kubernetes.io]"},
		{"scope", func(c *apiextensionsv1.CustomResourceDefinition) { c.Spec.Scope = "Everywhere" }, "spec.scope"},
		{"plural missing", func(c *apiextensionsv1.CustomResourceDefinition) { c.Spec.Names.Plural = "" }, "spec.names.plural"},
		{"kind missing", func(c *apiextensionsv1.CustomResourceDefinition) {
			c.Spec.Names.Kind = ""
			c.Spec.Names.ListKind = "WidgetList"
		}, "spec.names.kind"},
		{"list kind is kind", func(c *apiextensionsv1.CustomResourceDefinition) { c.Spec.Names.ListKind = "Widget" }, "spec.names.listKind"},
		{"short name", func(c *apiextensionsv1.CustomResourceDefinition) { c.Spec.Names.ShortNames = []string{"w_1"} }, "spec.names.shortNames[0]"},
		{"no versions", func(c *apiextensionsv1.CustomResourceDefinition) { c.Spec.Versions = nil }, "spec.versions"},
		{"two storage versions", func(c *apiextensionsv1.CustomResourceDefinition) {
			v := c.Spec.Versions[0]
			v.Name = "v2"
			c.Spec.Versions = append(c.Spec.Versions, v)
		}, "spec.versions"},
		{"none served", func(c *apiextensionsv1.CustomResourceDefinition) { c.Spec.Versions[0].Served = false }, "spec.versions"},
		{"no schema", func(c *apiextensionsv1.CustomResourceDefinition) { c.Spec.Versions[0].Schema = nil }, "spec.versions[0].schema.openAPIV3Schema"},
		{"root not an object", func(c *apiextensionsv1.CustomResourceDefinition) {
			c.Spec.Versions[0].Schema.OpenAPIV3Schema = schemaOf(t, `{"type":"string"}`)
		}, "spec.versions[0].schema.openAPIV3Schema.type"},
		{"untyped field", func(c *apiextensionsv1.CustomResourceDefinition) {
			c.Spec.Versions[0].Schema.OpenAPIV3Schema = schemaOf(t, `{"type":"object","properties":{"spec":{"type":"object","properties":{"x":{"description":"no type"}}}}}`)
		}, "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[x].type"},
		{"default of the wrong type", func(c *apiextensionsv1.CustomResourceDefinition) {
			c.Spec.Versions[0].Schema.OpenAPIV3Schema = schemaOf(t, `{"type":"object","properties":{"spec":{"type":"object","properties":{"n":{"type":"integer","default":"one"}}}}}`)
		}, "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[n].default"},
		{"scale path outside spec", func(c *apiextensionsv1.CustomResourceDefinition) {
			c.Spec.Versions[0].Subresources.Scale.SpecReplicasPath = ".status.replicas"
		}, "spec.versions[0].subresources.scale.specReplicasPath"},
		{"printer column type", func(c *apiextensionsv1.CustomResourceDefinition) {
			c.Spec.Versions[0].AdditionalPrinterColumns[0].Type = "int"
		},
			"spec.versions[0].additionalPrinterColumns[0].type"},
		{"printer column path", func(c *apiextensionsv1.CustomResourceDefinition) {
			c.Spec.Versions[0].AdditionalPrinterColumns[0].JSONPath = ".spec[replicas"
		}, "spec.versions[0].additionalPrinterColumns[0].jsonPath"},
		{"webhook conversion", func(c *apiextensionsv1.CustomResourceDefinition) {
			c.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{Strategy: apiextensionsv1.WebhookConverter}
		}, "spec.conversion.strategy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			crd := validCRD(t)
			c.mutate(crd)
			defaultCRD(crd)
			errs := validators["customresourcedefinitions"].create(crd)
			if c.field == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			for _, e := range errs {
				if e.Field == c.field {
					return
				}
			}
			t.Fatalf("no error on %s: %v", c.field, errs)
		})
	}
}

func TestDefaultCRD(t *testing.T) {
	crd := validCRD(t)
	defaultCRD(crd)
	n := crd.Spec.Names
	if n.Singular != "widget" || n.ListKind != "WidgetList" || crd.Spec.Conversion == nil || crd.Spec.Conversion.Strategy != apiextensionsv1.NoneConverter ||
		!reflect.DeepEqual(crd.Status.StoredVersions, []string{"v1"}) {
		t.Fatalf("defaults: %+v %+v %v", n, crd.Spec.Conversion, crd.Status.StoredVersions)
	}
}

func TestValidateCRDUpdate(t *testing.T) {
	established := func(c *apiextensionsv1.CustomResourceDefinition) {
		c.Status.Conditions = []apiextensionsv1.CustomResourceDefinitionCondition{{Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionTrue}}
	}
	cases := []struct {
		name   string
		old    func(*apiextensionsv1.CustomResourceDefinition)
		mutate func(*apiextensionsv1.CustomResourceDefinition)
		field  string
	}{
		{"columns may change", established, func(c *apiextensionsv1.CustomResourceDefinition) {
			c.Spec.Versions[0].AdditionalPrinterColumns = nil
		}, ""},
		{"group is immutable", nil, func(c *apiextensionsv1.CustomResourceDefinition) {
			c.Spec.Group = "other.com"
			c.Name = "widgets.other.com"
		}, "spec.group"},
		{"plural is immutable", nil, func(c *apiextensionsv1.CustomResourceDefinition) {
			c.Spec.Names.Plural = "gadgets"
			c.Name = "gadgets.example.com"
		}, "spec.names.plural"},
		{"scope is immutable once established", established, func(c *apiextensionsv1.CustomResourceDefinition) { c.Spec.Scope = apiextensionsv1.ClusterScoped }, "spec.scope"},
		{"scope may change before", nil, func(c *apiextensionsv1.CustomResourceDefinition) { c.Spec.Scope = apiextensionsv1.ClusterScoped }, ""},
		{"a stored version stays", nil, func(c *apiextensionsv1.CustomResourceDefinition) { c.Spec.Versions[0].Name = "v2" }, "status.storedVersions[0]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			old := validCRD(t)
			defaultCRD(old)
			if c.old != nil {
				c.old(old)
			}
			crd := old.DeepCopy()
			c.mutate(crd)
			defaultCRD(crd)
			errs := validators["customresourcedefinitions"].update(crd, old)
			if c.field == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			for _, e := range errs {
				if e.Field == c.field {
					return
				}
			}
			t.Fatalf("no error on %s: %v", c.field, errs)
		})
	}
}

func TestCRDNamesConflict(t *testing.T) {
	crd := validCRD(t)
	defaultCRD(crd)
	other := func(group, resource, kind string, short ...string) *Kind {
		return &Kind{GVK: gvk(group, "v1", kind), Resource: resource, Singular: strings.TrimSuffix(resource, "s"), ShortNames: short}
	}
	cases := []struct {
		name   string
		others []*Kind
		want   string
	}{
		{"nothing else", nil, ""},
		{"same plural elsewhere", []*Kind{other("other.com", "widgets", "Widget")}, ""},
		{"plural taken", []*Kind{other("example.com", "widgets", "Thing")}, `"widgets" is already in use`},
		{"kind taken", []*Kind{other("example.com", "gadgets", "Widget")}, `"Widget" is already in use`},
		{"list kind taken", []*Kind{other("example.com", "gadgets", "WidgetList")}, `"WidgetList" is already in use`},
		{"short name taken", []*Kind{other("example.com", "gadgets", "Gadget", "w")}, `"w" is already in use`},
	}
	crd.Spec.Names.ShortNames = []string{"w"}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := CRDNamesConflict(crd, c.others); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestCustomResourceKinds(t *testing.T) {
	pinTableClock(t)
	crd := validCRD(t)
	beta := crd.Spec.Versions[0]
	beta.Name, beta.Storage, beta.AdditionalPrinterColumns = "v1beta1", false, nil
	crd.Spec.Versions = append([]apiextensionsv1.CustomResourceDefinitionVersion{beta}, crd.Spec.Versions...)
	defaultCRD(crd)
	kinds, err := CustomResourceKinds(crd)
	if err != nil {
		t.Fatal(err)
	}
	if len(kinds) != 2 || kinds[0].GVK.Version != "v1" || kinds[1].GVK.Version != "v1beta1" {
		t.Fatalf("kinds not in version priority order: %v", kinds)
	}
	k := kinds[0]
	if !k.Namespaced || !k.HasStatus || !k.Unstructured || k.ListGVK().Kind != "WidgetList" || !k.HasSubresource(SubScale) || k.Scale == nil {
		t.Fatalf("kind: %+v", k)
	}
	u := &unstructured.Unstructured{Object: fromJSON(t, `{"size":"M","replicas":4}`)}
	u.SetCreationTimestamp(metav1.NewTime(nowFunc().Add(-2 * time.Hour)))
	if row := k.Row(u); !reflect.DeepEqual(row, []any{"w", int64(4)}) {
		t.Fatalf("row %#v", row)
	}
	if row := kinds[1].Row(u); len(kinds[1].Columns) != 2 || kinds[1].Columns[1].Name != "Age" || row[1] != "120m" {
		t.Fatalf("default columns %v, row %#v", kinds[1].Columns, row)
	}
	k.Scale.Set(u, 7)
	if spec, status, _ := k.Scale.Get(u); spec != 7 || status != 0 {
		t.Fatalf("scale: %d %d", spec, status)
	}
	// With the status subresource, status is not the client's to set on create.
	u.Object["status"] = map[string]any{"replicas": int64(3)}
	k.PrepareForCreate(u)
	if _, ok := u.Object["status"]; ok {
		t.Fatal("status kept on create")
	}
	if errs := k.Validate(&unstructured.Unstructured{Object: fromJSON(t, `{"size":"M"}`)}); len(errs) != 0 {
		t.Fatalf("valid widget: %v", errs)
	}
	bad := &unstructured.Unstructured{Object: fromJSON(t, `{"size":"M"}`)}
	bad.SetName("Not_A_Name")
	if errs := k.Validate(bad); len(errs) == 0 || errs[0].Field != "metadata.name" {
		t.Fatalf("bad name: %v", errs)
	}
}
