package serviceaccount

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/tugboat-io/tug/plugins/admission/internal/policy"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// ServiceAccountKey is the related objects' key of the namespace's service accounts.
var ServiceAccountKey = tug.ObjectKey("v1", "ServiceAccount")

// Names and paths as kube's.
const (
	DefaultName         = "default"
	MirrorPodAnnotation = "kubernetes.io/config.mirror"
	TokenVolumePrefix   = "kube-api-access-"
	TokenMountPath      = "/var/run/secrets/kubernetes.io/serviceaccount"
	// TokenExpirationSeconds is kube's 3607: an hour and a few seconds, which tells the
	// token's issuer the token came from this defaulting (and may be extended).
	TokenExpirationSeconds = 3607
)

// Config is the policy's configuration.
type Config struct {
	// TokenVolume mounts the account's token in every container (kube's default; off
	// here until tug issues bound tokens).
	TokenVolume bool `json:"tokenVolume"`
}

var config = policy.NewConfig(func() Config { return Config{} })

type pod struct {
	Metadata struct {
		Name         string            `json:"name"`
		GenerateName string            `json:"generateName"`
		Namespace    string            `json:"namespace"`
		UID          string            `json:"uid"`
		Annotations  map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		ServiceAccountName           string            `json:"serviceAccountName"`
		DeprecatedServiceAccount     string            `json:"serviceAccount"`
		AutomountServiceAccountToken *bool             `json:"automountServiceAccountToken"`
		ImagePullSecrets             []json.RawMessage `json:"imagePullSecrets"`
		Volumes                      []struct {
			Name string `json:"name"`
		} `json:"volumes"`
		Containers     []container `json:"containers"`
		InitContainers []container `json:"initContainers"`
	} `json:"spec"`
}

type container struct {
	VolumeMounts []struct {
		MountPath string `json:"mountPath"`
	} `json:"volumeMounts"`
}

type serviceAccount struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	AutomountServiceAccountToken *bool             `json:"automountServiceAccountToken"`
	ImagePullSecrets             []json.RawMessage `json:"imagePullSecrets"`
}

// Admit applies the policy on pod creates.
func Admit(req *tug.AdmissionRequest) *tug.AdmissionResponse {
	if !policy.IsPod(req) || req.Operation != "CREATE" {
		return tug.Allow()
	}
	cfg, err := config.Get(req.Config)
	if err != nil {
		return policy.ConfigError(err)
	}
	var p pod
	if err := json.Unmarshal(req.Object, &p); err != nil {
		return tug.DenyStatus(400, "BadRequest", fmt.Sprintf("decode pod: %v", err))
	}
	if _, mirror := p.Metadata.Annotations[MirrorPodAnnotation]; mirror {
		if p.Spec.ServiceAccountName != "" || p.Spec.DeprecatedServiceAccount != "" {
			return policy.Forbidden(req, "a mirror pod may not reference service accounts")
		}
		return tug.Allow()
	}
	resp := tug.Allow()
	name := p.Spec.ServiceAccountName
	if name == "" {
		// The deprecated field stands for the name when only it is set, as the API's
		// conversion reads it; otherwise both get the default.
		name = p.Spec.DeprecatedServiceAccount
		if name == "" {
			name = DefaultName
			resp.Add("/spec/serviceAccount", name)
		}
		resp.Add("/spec/serviceAccountName", name)
	}
	if !req.HasRelated(ServiceAccountKey) {
		return tug.DenyStatus(500, "InternalError", fmt.Sprintf("the host handed no %s: the AdmissionPolicy must read it (spec.reads)", ServiceAccountKey))
	}
	var sa *serviceAccount
	for _, raw := range req.RelatedObjects(ServiceAccountKey) {
		var s serviceAccount
		if err := json.Unmarshal(raw, &s); err != nil {
			return tug.DenyStatus(500, "InternalError", fmt.Sprintf("decode service account: %v", err))
		}
		if s.Metadata.Name == name {
			sa = &s
			break
		}
	}
	if sa == nil {
		return policy.Forbidden(req, fmt.Sprintf("error looking up service account %s/%s: serviceaccount %q not found", req.Namespace, name, name))
	}
	if cfg.TokenVolume && automount(sa, &p) {
		mountToken(resp, &p)
	}
	if len(p.Spec.ImagePullSecrets) == 0 && len(sa.ImagePullSecrets) > 0 {
		resp.Add("/spec/imagePullSecrets", sa.ImagePullSecrets)
	}
	return resp
}

// automount is whether the token is mounted: the pod's say, else the account's, else yes.
func automount(sa *serviceAccount, p *pod) bool {
	if p.Spec.AutomountServiceAccountToken != nil {
		return *p.Spec.AutomountServiceAccountToken
	}
	if sa.AutomountServiceAccountToken != nil {
		return *sa.AutomountServiceAccountToken
	}
	return true
}

func mountToken(resp *tug.AdmissionResponse, p *pod) {
	volume, have := "", false
	for _, v := range p.Spec.Volumes {
		if strings.HasPrefix(v.Name, TokenVolumePrefix) {
			volume, have = v.Name, true
			break
		}
	}
	if volume == "" {
		volume = TokenVolumePrefix + suffix(p)
	}
	mount := map[string]any{"name": volume, "readOnly": true, "mountPath": TokenMountPath}
	needed := false
	for _, list := range []struct {
		field string
		cs    []container
	}{{"initContainers", p.Spec.InitContainers}, {"containers", p.Spec.Containers}} {
		for i, c := range list.cs {
			mounted := false
			for _, m := range c.VolumeMounts {
				// Whatever the pod mounts at the path itself wins.
				if m.MountPath == TokenMountPath {
					mounted = true
					break
				}
			}
			if mounted {
				continue
			}
			needed = true
			if c.VolumeMounts == nil {
				resp.Add(fmt.Sprintf("/spec/%s/%d/volumeMounts", list.field, i), []any{mount})
			} else {
				resp.Add(fmt.Sprintf("/spec/%s/%d/volumeMounts/-", list.field, i), mount)
			}
		}
	}
	if have || !needed {
		return
	}
	v := tokenVolume(volume)
	if p.Spec.Volumes == nil {
		resp.Add("/spec/volumes", []any{v})
	} else {
		resp.Add("/spec/volumes/-", v)
	}
}

// tokenVolume is kube's projected volume of the token, the CA bundle and the namespace.
func tokenVolume(name string) map[string]any {
	return map[string]any{
		"name": name,
		"projected": map[string]any{
			"defaultMode": 420,
			"sources": []any{
				map[string]any{"serviceAccountToken": map[string]any{"expirationSeconds": TokenExpirationSeconds, "path": "token"}},
				map[string]any{"configMap": map[string]any{"name": "kube-root-ca.crt", "items": []any{map[string]any{"key": "ca.crt", "path": "ca.crt"}}}},
				map[string]any{"downwardAPI": map[string]any{"items": []any{map[string]any{"path": "namespace", "fieldRef": map[string]any{"apiVersion": "v1", "fieldPath": "metadata.namespace"}}}}},
			},
		},
	}
}

// alphabet is kube's name generator's: no vowels (no words), no confusable characters.
const alphabet = "bcdfghjklmnpqrstvwxz2456789"

// suffix is five characters of the alphabet drawn from the pod's identity.
func suffix(p *pod) string {
	h := fnv.New64a()
	for _, s := range []string{p.Metadata.Namespace, p.Metadata.Name, p.Metadata.GenerateName, p.Metadata.UID} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	n := h.Sum64()
	b := make([]byte, 5)
	for i := range b {
		b[i] = alphabet[n%uint64(len(alphabet))]
		n /= uint64(len(alphabet))
	}
	return string(b)
}
