package podsecurity

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/tugboat-io/tug/plugins/admission/internal/policy"
	tug "github.com/tugboat-io/tug/sdk/go"
	"github.com/tugboat-io/tug/sdk/go/jsonread"
)

// The levels, least to most restrictive.
const (
	Privileged = "privileged"
	Baseline   = "baseline"
	Restricted = "restricted"
)

var rank = map[string]int{Privileged: 0, Baseline: 1, Restricted: 2}

// Modes and the namespace labels that set them.
const (
	labelPrefix = "pod-security.kubernetes.io/"
	// AuditAnnotation is the audit annotation of audit-level violations, as kube's.
	AuditAnnotation = "pod-security.kubernetes.io/audit-violations"
)

// Config is the policy's configuration, as kube's PodSecurityConfiguration.
type Config struct {
	Defaults struct {
		Enforce string `json:"enforce"`
		Warn    string `json:"warn"`
		Audit   string `json:"audit"`
	} `json:"defaults"`
	Exemptions struct {
		Usernames      []string `json:"usernames"`
		Namespaces     []string `json:"namespaces"`
		RuntimeClasses []string `json:"runtimeClasses"`
	} `json:"exemptions"`
}

var config = policy.NewConfig(func() Config {
	var c Config
	c.Defaults.Enforce, c.Defaults.Warn, c.Defaults.Audit = Privileged, Privileged, Privileged
	return c
})

// templateKinds are the workload resources whose pod template is checked, by resource and
// the path from the object to the template.
var templateKinds = map[string][]string{
	"apps/deployments":        {"spec", "template"},
	"apps/replicasets":        {"spec", "template"},
	"apps/statefulsets":       {"spec", "template"},
	"apps/daemonsets":         {"spec", "template"},
	"batch/jobs":              {"spec", "template"},
	"batch/cronjobs":          {"spec", "jobTemplate", "spec", "template"},
	"/replicationcontrollers": {"spec", "template"},
	"/podtemplates":           {"template"},
}

// Admit applies the policy.
func Admit(req *tug.AdmissionRequest) *tug.AdmissionResponse {
	if req.SubResource != "" || (req.Operation != "CREATE" && req.Operation != "UPDATE") || req.Namespace == "" {
		return tug.Allow()
	}
	isPod := req.Resource.Group == "" && req.Resource.Resource == "pods"
	path, isTemplate := templateKinds[req.Resource.Group+"/"+req.Resource.Resource]
	if !isPod && !isTemplate {
		return tug.Allow()
	}
	cfg, err := config.Get(req.Config)
	if err != nil {
		return policy.ConfigError(err)
	}
	if slices.Contains(cfg.Exemptions.Usernames, req.UserInfo.Username) || slices.Contains(cfg.Exemptions.Namespaces, req.Namespace) {
		return tug.Allow()
	}
	ns, err := policy.RequestNamespace(req)
	if err != nil {
		return tug.DenyStatus(500, "InternalError", err.Error())
	}
	var labels map[string]string
	if ns != nil {
		labels = ns.Labels
	}
	enforce := level(labels, "enforce", cfg.Defaults.Enforce)
	warn := level(labels, "warn", cfg.Defaults.Warn)
	audit := level(labels, "audit", cfg.Defaults.Audit)
	if enforce == Privileged && warn == Privileged && audit == Privileged {
		return tug.Allow()
	}
	// An update that leaves the pod spec alone (labels, annotations, status) cannot make the
	// pod less secure: kube does not check it again.
	if isPod && req.Operation == "UPDATE" && bytes.Equal(member(req.Object, "spec"), member(req.OldObject, "spec")) {
		return tug.Allow()
	}
	var spec *podSpec
	if isPod {
		spec, err = decodePod(req.Object)
	} else {
		spec, err = decodeTemplate(req.Object, path)
	}
	if err != nil {
		return tug.DenyStatus(400, "BadRequest", err.Error())
	}
	if spec == nil || slices.Contains(cfg.Exemptions.RuntimeClasses, spec.RuntimeClassName) {
		return tug.Allow()
	}
	resp := tug.Allow()
	if msg := evaluate(spec, enforce); msg != "" {
		if isPod {
			return policy.Forbidden(req, "violates PodSecurity "+msg)
		}
		// A workload is not refused: its pods will be. kube warns instead.
		resp.Warn("would violate PodSecurity " + msg)
	}
	// A template's enforce-level warning stands for the warn level's when they are one.
	if msg := evaluate(spec, warn); msg != "" && (isPod || warn != enforce) {
		resp.Warn("would violate PodSecurity " + msg)
	}
	if msg := evaluate(spec, audit); msg != "" {
		resp.Audit(AuditAnnotation, "would violate PodSecurity "+msg)
	}
	return resp
}

// level is the namespace's level for a mode, or the default; an unknown value is the most
// restrictive level, as kube treats an invalid label.
func level(labels map[string]string, mode, def string) string {
	v, ok := labels[labelPrefix+mode]
	if !ok {
		v = def
	}
	if _, known := rank[v]; !known {
		return Restricted
	}
	return v
}

// evaluate is the message of the spec's violations of a level, "" for none: kube's
// `"restricted:latest": reason (detail), …`. Every version label is read as latest.
func evaluate(s *podSpec, lvl string) string {
	if rank[lvl] == 0 {
		return ""
	}
	v := s.baseline()
	if lvl == Restricted {
		// The restricted level's seccomp and capabilities checks replace baseline's.
		v = slices.DeleteFunc(v, func(x violation) bool {
			return x.id == "seccompProfile_baseline" || x.id == "capabilities_baseline"
		})
		v = append(v, s.restricted()...)
	}
	// kube reports violations in the order of its checks' ids.
	slices.SortStableFunc(v, func(a, b violation) int { return strings.Compare(a.id, b.id) })
	if len(v) == 0 {
		return ""
	}
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = x.reason
		if x.detail != "" {
			parts[i] += " (" + x.detail + ")"
		}
	}
	return fmt.Sprintf("%q: %s", lvl+":latest", strings.Join(parts, ", "))
}

// decodeTemplate decodes the pod template at path; nil when the object has none.
func decodeTemplate(raw []byte, path []string) (*podSpec, error) {
	for _, p := range path {
		raw = member(raw, p)
		if raw == nil {
			return nil, nil
		}
	}
	return decodePod(raw)
}

// member is the raw value of an object's member, nil when absent or not an object.
func member(raw []byte, key string) []byte {
	r := jsonread.New(raw)
	if !r.Begin('{') {
		return nil
	}
	for r.Next('}') {
		if string(r.Key()) == key {
			return r.Raw()
		}
		r.Skip()
	}
	return nil
}
