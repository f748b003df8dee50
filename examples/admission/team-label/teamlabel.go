package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	tug "github.com/tugboat-io/tug/sdk/go"
)

// Errors decide returns, wrapped with the details. Admit turns them into a denial with code
// 500 (errConfig: the policy is misconfigured) or 400 (errObject: the request is not what
// the policy can read).
var (
	errConfig = errors.New("policy configuration")
	errObject = errors.New("admission request")
)

// defaultLabel is the label required when no configuration names one.
const defaultLabel = "team"

// Config is the policy's configuration: the AdmissionPolicy's spec.config, or, for requests
// of a policy without one, the WasmPlugin's config.
type Config struct {
	// Label is the label key every Deployment must carry with a non-empty value; "team"
	// when not set.
	Label string `json:"label"`
}

// parseConfig decodes and checks a configuration; "" when it names no label (absent, null,
// {}), and the caller falls back to another one.
func parseConfig(raw []byte) (string, error) {
	if t := strings.TrimSpace(string(raw)); t == "" || t == "null" {
		return "", nil
	}
	var c struct {
		Label *string `json:"label"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return "", fmt.Errorf("%w: %v", errConfig, err)
	}
	if c.Label == nil {
		return "", nil
	}
	if err := validLabelKey(*c.Label); err != nil {
		return "", fmt.Errorf("%w: label: %q: %v", errConfig, *c.Label, err)
	}
	return *c.Label, nil
}

// validLabelKey checks a label key as Kubernetes does: an optional DNS subdomain prefix and
// "/", then a name of at most 63 characters, alphanumeric at both ends, with "-", "_" and
// "." inside.
func validLabelKey(k string) error {
	prefix, name, hasPrefix := strings.Cut(k, "/")
	if !hasPrefix {
		prefix, name = "", k
	}
	switch {
	case k == "":
		return errors.New("empty")
	case !validName(name, 63, "-_.", true):
		return errors.New("not a label key: the name (after any prefix/) must be 1 to 63 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit")
	case hasPrefix && len(prefix) > 253:
		return errors.New("not a label key: the prefix must be a DNS subdomain of at most 253 characters")
	}
	if hasPrefix {
		for _, part := range strings.Split(prefix, ".") {
			if !validName(part, 63, "-", false) {
				return errors.New("not a label key: the prefix must be a DNS subdomain (lower-case letters, digits, '-' and '.')")
			}
		}
	}
	return nil
}

// validName reports whether s has 1 to max characters, letters (upper-case ones only if
// upper) and digits, and inner characters from inner between alphanumeric ends.
func validName(s string, max int, inner string, upper bool) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || upper && 'A' <= c && c <= 'Z'
		if !alnum && (i == 0 || i == len(s)-1 || !strings.ContainsRune(inner, rune(c))) {
			return false
		}
	}
	return true
}

// metadata is the part of an object's metadata the policy reads.
type metadata struct {
	Name              string            `json:"name"`
	GenerateName      string            `json:"generateName"`
	Labels            map[string]string `json:"labels"`
	DeletionTimestamp *string           `json:"deletionTimestamp"`
}

func decodeMeta(what string, raw json.RawMessage) (*metadata, error) {
	switch t := strings.TrimSpace(string(raw)); {
	case t == "" || t == "null":
		return nil, fmt.Errorf("%w: no %s", errObject, what)
	case t[0] != '{':
		return nil, fmt.Errorf("%w: %s is not a JSON object", errObject, what)
	}
	var o struct {
		Metadata metadata `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, fmt.Errorf("%w: decode %s: %v", errObject, what, err)
	}
	return &o.Metadata, nil
}

// decide is the policy: a Deployment created or updated without a non-empty value for the
// label is denied. The label is the request's configuration's (the AdmissionPolicy's
// spec.config), else fallback (the plugin's configuration), else "team".
//
// Deployments that lacked the label before the policy keep working: an UPDATE of one whose
// old object had no value either is allowed with a warning, so that controllers can still
// scale, roll and finalise it; removing the label, or creating a Deployment without it, is
// denied. A Deployment being deleted is never held up. Requests it does not inspect (other
// kinds, DELETE, subresources such as scale and status) are allowed before the
// configuration is read.
func decide(req *tug.AdmissionRequest, fallback string) (*tug.AdmissionResponse, error) {
	if req.Kind.Group != "apps" || req.Kind.Kind != "Deployment" || req.SubResource != "" ||
		req.Operation != "CREATE" && req.Operation != "UPDATE" {
		return tug.Allow(), nil
	}
	label, err := parseConfig(req.Config)
	switch {
	case err != nil:
		return nil, err
	case label == "":
		label = fallback
	}
	if label == "" {
		label = defaultLabel
	}
	meta, err := decodeMeta("object", req.Object)
	if err != nil {
		return nil, err
	}
	if meta.Labels[label] != "" {
		return tug.Allow(), nil
	}
	name := meta.Name
	if name == "" {
		name = req.Name
	}
	if name == "" && meta.GenerateName != "" {
		name = meta.GenerateName + "…"
	}
	missing := fmt.Sprintf("has no %q label", label)
	if v, ok := meta.Labels[label]; ok && v == "" {
		missing = fmt.Sprintf("has an empty %q label", label)
	}
	if req.Operation == "UPDATE" {
		old, err := decodeMeta("oldObject", req.OldObject)
		if err != nil {
			return nil, err
		}
		if old.Labels[label] == "" || meta.DeletionTimestamp != nil {
			return tug.Allow().Warn(fmt.Sprintf("Deployment %q %s; every Deployment must carry one", name, missing)), nil
		}
	}
	return tug.Denyf("Deployment %q %s: every Deployment must carry a non-empty %q label", name, missing, label), nil
}
