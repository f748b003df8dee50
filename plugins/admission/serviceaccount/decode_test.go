package serviceaccount

import (
	"encoding/json"
	"hash/fnv"
	"reflect"
	"testing"
)

// plainPod is pod as encoding/json decodes it by reflection (matching the other names in
// any case): the reference the decoder is held to. It converts to pod, as struct tags do
// not count in conversions.
type plainPod struct {
	Metadata struct {
		Name, GenerateName, Namespace, UID string
		Annotations                        map[string]string
	}
	Spec struct {
		ServiceAccountName           string
		DeprecatedServiceAccount     string `json:"serviceAccount"`
		AutomountServiceAccountToken *bool
		ImagePullSecrets             []json.RawMessage
		Volumes                      []volume
		Containers                   []container
		InitContainers               []container
	}
}

type plainAccount struct {
	Metadata struct {
		Name string
	}
	AutomountServiceAccountToken *bool
	ImagePullSecrets             []json.RawMessage
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, doc := range []string{
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","generateName":"web-","namespace":"dev","uid":"u","labels":{"a":"b"},"annotations":{"kubernetes.io/config.mirror":"x"}},"spec":{"serviceAccountName":"sa","serviceAccount":"old","automountServiceAccountToken":false,"imagePullSecrets":[{"name":"r"},null],"volumes":[{"name":"data","emptyDir":{}},{"name":"kube-api-access-abcde","projected":{}}],"initContainers":[{"name":"i","volumeMounts":null}],"containers":[{"name":"c","volumeMounts":[{"name":"data","mountPath":"/data"}]},{"name":"d","volumeMounts":[]}]}}`,
		`{}`, `null`, `{"metadata":null,"spec":null}`, `{"spec":{"automountServiceAccountToken":null,"imagePullSecrets":[],"volumes":null,"containers":[{}]}}`,
	} {
		var plain plainPod
		if err := json.Unmarshal([]byte(doc), &plain); err != nil {
			t.Fatalf("encoding/json refuses %s: %v", doc, err)
		}
		if got, err := decodePod([]byte(doc)); err != nil || !reflect.DeepEqual(*got, pod(plain)) {
			t.Errorf("decodePod(%s) = %+v, %v; want %+v", doc, got, err, plain)
		}
	}
	for _, doc := range []string{
		`{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"builder","namespace":"dev"},"imagePullSecrets":[{"name":"regcred"}],"automountServiceAccountToken":true,"secrets":[]}`,
		`{}`, `{"metadata":{},"imagePullSecrets":null,"automountServiceAccountToken":null}`,
	} {
		var plain plainAccount
		if err := json.Unmarshal([]byte(doc), &plain); err != nil {
			t.Fatalf("encoding/json refuses %s: %v", doc, err)
		}
		want := serviceAccount{plain.Metadata.Name, plain.AutomountServiceAccountToken, plain.ImagePullSecrets}
		if got, err := decodeServiceAccount([]byte(doc)); err != nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("decodeServiceAccount(%s) = %+v, %v; want %+v", doc, got, err, want)
		}
	}
	for _, bad := range []string{``, `[]`, `{"metadata":{"name":1}}`, `{"spec":{"automountServiceAccountToken":"yes"}}`, `{"spec":{"volumes":[{"name":[]}]}}`, `{"spec":{"imagePullSecrets":{}}}`, `{"a":1,}`} {
		if p, err := decodePod([]byte(bad)); err == nil {
			t.Errorf("decodePod(%s) = %+v, want an error", bad, p)
		}
	}
	for _, bad := range []string{``, `[]`, `{"metadata":{"name":1}}`, `{"automountServiceAccountToken":"yes"}`, `{"imagePullSecrets":{}}`} {
		if sa, err := decodeServiceAccount([]byte(bad)); err == nil {
			t.Errorf("decodeServiceAccount(%s) = %+v, want an error", bad, sa)
		}
	}
}

// The volume name's suffix is what hash/fnv gave when the policy used it: a pod admitted
// again gets the name it got before.
func TestSuffixIsFNV(t *testing.T) {
	for _, meta := range [][4]string{{"dev", "web", "web-", "u1"}, {}, {"ns", "", "rs-x-", "a/é"}} {
		h := fnv.New64a()
		for _, s := range meta {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
		n := h.Sum64()
		want := make([]byte, 5)
		for i := range want {
			want[i] = alphabet[n%uint64(len(alphabet))]
			n /= uint64(len(alphabet))
		}
		p := &pod{}
		p.Metadata.Namespace, p.Metadata.Name, p.Metadata.GenerateName, p.Metadata.UID = meta[0], meta[1], meta[2], meta[3]
		if got := suffix(p); got != string(want) {
			t.Errorf("suffix(%q) = %s, hash/fnv gives %s", meta, got, want)
		}
	}
}
