package serviceaccount

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/tugboat-io/tug/plugins/admission/internal/policy"
	tug "github.com/tugboat-io/tug/sdk/go"
	"github.com/tugboat-io/tug/sdk/go/jsonread"
	"github.com/tugboat-io/tug/sdk/go/jsonwrite"
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

// pod is what the policy reads of a pod.
type pod struct {
	Metadata struct {
		Name, GenerateName, Namespace, UID string
		Annotations                        map[string]string
	}
	Spec struct {
		ServiceAccountName           string
		DeprecatedServiceAccount     string // serviceAccount
		AutomountServiceAccountToken *bool
		ImagePullSecrets             []json.RawMessage
		Volumes                      []volume
		Containers                   []container
		InitContainers               []container
	}
}

type volume struct {
	Name string
}

type container struct {
	VolumeMounts []volumeMount
}

type volumeMount struct {
	MountPath string
}

// serviceAccount is what the policy reads of a ServiceAccount.
type serviceAccount struct {
	Name                         string
	AutomountServiceAccountToken *bool
	ImagePullSecrets             []json.RawMessage
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
	p, err := decodePod(req.Object)
	if err != nil {
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
		s, err := decodeServiceAccount(raw)
		if err != nil {
			return tug.DenyStatus(500, "InternalError", fmt.Sprintf("decode service account: %v", err))
		}
		if s.Name == name {
			sa = s
			break
		}
	}
	if sa == nil {
		return policy.Forbidden(req, fmt.Sprintf("error looking up service account %s/%s: serviceaccount %q not found", req.Namespace, name, name))
	}
	if cfg.TokenVolume && automount(sa, p) {
		mountToken(resp, p)
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
	mount := tokenMount(volume)
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
			path := "/spec/" + list.field + "/" + strconv.Itoa(i) + "/volumeMounts"
			if c.VolumeMounts == nil {
				resp.Add(path, []json.RawMessage{mount})
			} else {
				resp.Add(path+"/-", mount)
			}
		}
	}
	if have || !needed {
		return
	}
	v := tokenVolume(volume)
	if p.Spec.Volumes == nil {
		resp.Add("/spec/volumes", []json.RawMessage{v})
	} else {
		resp.Add("/spec/volumes/-", v)
	}
}

// The patch values are written as JSON directly, members in name order as encoding/json
// writes maps: built as maps of maps, they were a third of the policy's time in wasm.

// tokenMount is the mount of the token volume named volume, as JSON.
func tokenMount(volume string) json.RawMessage {
	b := append(make([]byte, 0, 128), `{"mountPath":`...)
	b = jsonwrite.AppendString(b, TokenMountPath)
	b = jsonwrite.AppendString(append(b, `,"name":`...), volume)
	return append(b, `,"readOnly":true}`...)
}

// tokenVolume is kube's projected volume of the token, the CA bundle and the namespace, as
// JSON.
func tokenVolume(name string) json.RawMessage {
	b := append(make([]byte, 0, 512), `{"name":`...)
	b = jsonwrite.AppendString(b, name)
	return append(b, tokenVolumeRest...)
}

// tokenVolumeRest is the token volume's JSON after its name.
var tokenVolumeRest = `,"projected":{"defaultMode":420,"sources":[` +
	`{"serviceAccountToken":{"expirationSeconds":` + strconv.Itoa(TokenExpirationSeconds) + `,"path":"token"}},` +
	`{"configMap":{"items":[{"key":"ca.crt","path":"ca.crt"}],"name":"kube-root-ca.crt"}},` +
	`{"downwardAPI":{"items":[{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"},"path":"namespace"}]}}]}}`

// alphabet is kube's name generator's: no vowels (no words), no confusable characters.
const alphabet = "bcdfghjklmnpqrstvwxz2456789"

// suffix is five characters of the alphabet drawn from the pod's identity: its 64-bit
// FNV-1a hash, computed as hash/fnv's New64a does but without the allocations of a
// hash.Hash and a []byte per string.
func suffix(p *pod) string {
	const offset64, prime64 = 14695981039346656037, 1099511628211
	n := uint64(offset64)
	for _, s := range [...]string{p.Metadata.Namespace, p.Metadata.Name, p.Metadata.GenerateName, p.Metadata.UID} {
		for i := range len(s) {
			n = (n ^ uint64(s[i])) * prime64
		}
		n *= prime64 // the zero byte after each: n^0 is n
	}
	b := make([]byte, 5)
	for i := range b {
		b[i] = alphabet[n%uint64(len(alphabet))]
		n /= uint64(len(alphabet))
	}
	return string(b)
}

// decodePod decodes what the policy reads of a pod, without reflection (the policy runs
// on every pod create, in wasm).
func decodePod(raw []byte) (*pod, error) {
	p := &pod{}
	r := jsonread.NewShared(raw)
	if r.Begin('{') {
		for r.Next('}') {
			switch string(r.Key()) {
			case "metadata":
				readPodMeta(r, p)
			case "spec":
				readPodSpec(r, p)
			default:
				r.Skip()
			}
		}
	}
	return p, r.End()
}

func readPodMeta(r *jsonread.Reader, p *pod) {
	if !r.Begin('{') {
		return
	}
	m := &p.Metadata
	for r.Next('}') {
		switch string(r.Key()) {
		case "name":
			m.Name = r.String()
		case "generateName":
			m.GenerateName = r.String()
		case "namespace":
			m.Namespace = r.String()
		case "uid":
			m.UID = r.String()
		case "annotations":
			m.Annotations = r.StringMap()
		default:
			r.Skip()
		}
	}
}

func readPodSpec(r *jsonread.Reader, p *pod) {
	if !r.Begin('{') {
		return
	}
	s := &p.Spec
	for r.Next('}') {
		switch string(r.Key()) {
		case "serviceAccountName":
			s.ServiceAccountName = r.String()
		case "serviceAccount":
			s.DeprecatedServiceAccount = r.String()
		case "automountServiceAccountToken":
			s.AutomountServiceAccountToken = r.OptionalBool()
		case "imagePullSecrets":
			s.ImagePullSecrets = readRawList(r)
		case "volumes":
			s.Volumes = jsonread.List(r, func(r *jsonread.Reader, v *volume) { v.Name = r.StringMember("name") })
		case "containers":
			s.Containers = jsonread.List(r, readContainer)
		case "initContainers":
			s.InitContainers = jsonread.List(r, readContainer)
		default:
			r.Skip()
		}
	}
}

func readContainer(r *jsonread.Reader, c *container) {
	r.Member("volumeMounts", func(r *jsonread.Reader) {
		c.VolumeMounts = jsonread.List(r, func(r *jsonread.Reader, m *volumeMount) { m.MountPath = r.StringMember("mountPath") })
	})
}

// decodeServiceAccount decodes what the policy reads of a ServiceAccount.
func decodeServiceAccount(raw []byte) (*serviceAccount, error) {
	sa := &serviceAccount{}
	r := jsonread.New(raw)
	if r.Begin('{') {
		for r.Next('}') {
			switch string(r.Key()) {
			case "metadata":
				sa.Name = r.StringMember("name")
			case "automountServiceAccountToken":
				sa.AutomountServiceAccountToken = r.OptionalBool()
			case "imagePullSecrets":
				sa.ImagePullSecrets = readRawList(r)
			default:
				r.Skip()
			}
		}
	}
	return sa, r.End()
}

// readRawList reads an array of values kept as they are written (null is nil), as
// encoding/json decodes a []json.RawMessage.
func readRawList(r *jsonread.Reader) []json.RawMessage {
	return jsonread.List(r, func(r *jsonread.Reader, raw *json.RawMessage) { *raw = r.Skip() })
}
