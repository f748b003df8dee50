package podsecurity

import (
	"encoding/json"
	"reflect"
	"testing"
)

// reference decodes a pod as encoding/json does by reflection into the checks' types, the
// reference the decoder is held to. A volume's source is the one member besides its name
// that is not null (the corpus has no volume with two).
func reference(doc []byte) (*podSpec, error) {
	var p struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
		Spec podSpec `json:"spec"`
	}
	if err := json.Unmarshal(doc, &p); err != nil {
		return nil, err
	}
	var raw struct {
		Spec struct {
			Volumes []map[string]json.RawMessage `json:"volumes"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, err
	}
	for i, v := range raw.Spec.Volumes {
		for k, m := range v {
			if k != "name" && string(m) != "null" {
				p.Spec.Volumes[i].source = k
			}
		}
	}
	p.Spec.Annotations = p.Metadata.Annotations
	return &p.Spec, nil
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, doc := range []string{
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","annotations":{"container.apparmor.security.beta.kubernetes.io/c":"unconfined"}},"spec":{"hostNetwork":true,"hostPID":false,"hostIPC":true,"runtimeClassName":"gvisor",` +
			`"securityContext":{"runAsNonRoot":true,"runAsUser":0,"seccompProfile":{"type":"RuntimeDefault","localhostProfile":null},"appArmorProfile":{"type":"Unconfined"},"seLinuxOptions":{"user":"u","role":"r","type":"t","level":"l"},"windowsOptions":{"hostProcess":false},"sysctls":[{"name":"kernel.shm_rmid_forced","value":"1"}],"fsGroup":2000},` +
			`"volumes":[{"name":"data","emptyDir":{}},{"name":"host","hostPath":{"path":"/"},"secret":null},{"name":"only"}],` +
			`"containers":[{"name":"c","image":"x","ports":[{"containerPort":80,"hostPort":8080},{"containerPort":81}],"securityContext":{"privileged":true,"allowPrivilegeEscalation":false,"runAsNonRoot":false,"runAsUser":1000,"seccompProfile":{"type":"Unconfined"},"appArmorProfile":null,"seLinuxOptions":{},"windowsOptions":{"hostProcess":null},"procMount":"Unmasked","capabilities":{"add":["NET_ADMIN"],"drop":["ALL"]}}}],` +
			`"initContainers":[{"name":"i","securityContext":null}],"ephemeralContainers":[{"name":"e","securityContext":{"capabilities":{"add":null,"drop":[]}}}]}}`,
		`{}`, `null`, `{"metadata":null,"spec":null}`,
		`{"spec":{"securityContext":null,"volumes":[],"containers":null,"initContainers":[{}],"hostNetwork":null}}`,
		`{"spec":{"securityContext":{"sysctls":null,"seccompProfile":null,"runAsUser":null}}}`,
	} {
		want, err := reference([]byte(doc))
		if err != nil {
			t.Fatalf("encoding/json refuses %s: %v", doc, err)
		}
		got, err := decodePod([]byte(doc))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("decodePod(%s) = %+v, %v\nwant %+v", doc, got, err, want)
		}
	}
	for _, bad := range []string{
		``, `[]`, `{"spec":[]}`, `{"spec":{"hostNetwork":"yes"}}`, `{"spec":{"securityContext":{"runAsUser":1.5}}}`,
		`{"spec":{"containers":[{"ports":[{"hostPort":4294967296}]}]}}`, `{"spec":{"volumes":[{"name":1}]}}`,
		`{"spec":{"containers":[{"securityContext":{"capabilities":{"add":"ALL"}}}]}}`, `{"metadata":{"annotations":[]}}`, `{"a":1,}`,
	} {
		if _, wantErr := reference([]byte(bad)); wantErr == nil {
			t.Fatalf("encoding/json decodes %s", bad)
		}
		if s, err := decodePod([]byte(bad)); err == nil {
			t.Errorf("decodePod(%s) = %+v, want an error", bad, s)
		}
	}
}
