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

// Config is the policy's configuration: the AdmissionPolicy's spec.config, or, for requests
// of a policy without one, the WasmPlugin's config.
type Config struct {
	// Registries are the allowed registries: a registry host ("registry.corp.example",
	// "registry:5000"), optionally followed by a repository path that images must be under
	// ("ghcr.io/myorg", "docker.io/library").
	Registries []string `json:"registries"`
}

// allowList is a checked Config.
type allowList struct {
	written []string // as configured, for messages
	prefix  []string // normalised: lower-case host, then the path as written, no trailing "/"
}

// parseConfig decodes and checks a configuration. A configuration without "registries"
// (absent, null, {}) gives a nil list: the caller falls back to another one.
func parseConfig(raw []byte) (*allowList, error) {
	if t := strings.TrimSpace(string(raw)); t == "" || t == "null" {
		return nil, nil
	}
	var c struct {
		Registries json.RawMessage `json:"registries"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%w: %v", errConfig, err)
	}
	if len(c.Registries) == 0 || string(c.Registries) == "null" {
		return nil, nil
	}
	var regs []string
	if err := json.Unmarshal(c.Registries, &regs); err != nil {
		return nil, fmt.Errorf("%w: registries: want a list of strings: %v", errConfig, err)
	}
	if len(regs) == 0 {
		return nil, fmt.Errorf("%w: registries: at least one registry is required", errConfig)
	}
	l := &allowList{written: regs}
	for i, r := range regs {
		p, err := parseEntry(r)
		if err != nil {
			return nil, fmt.Errorf("%w: registries[%d]: %q: %v", errConfig, i, r, err)
		}
		l.prefix = append(l.prefix, p)
	}
	return l, nil
}

// parseEntry normalises an allowed registry: "Registry.Corp.Example/team/" is
// "registry.corp.example/team". The first component is always the host.
func parseEntry(s string) (string, error) {
	switch {
	case s == "":
		return "", errors.New("empty")
	case strings.ContainsAny(s, " \t\r\n"):
		return "", errors.New("contains white space")
	case strings.Contains(s, "://"):
		return "", errors.New("a registry host and optional path, without a scheme")
	case strings.Contains(s, "@"):
		return "", errors.New("a registry host and optional path, without a digest")
	}
	s = strings.TrimRight(s, "/")
	host, path, _ := strings.Cut(s, "/")
	switch {
	case host == "":
		return "", errors.New("no registry host")
	case strings.Contains(path, ":"):
		return "", errors.New("a registry host and optional path, without a tag")
	case strings.HasPrefix(path, "/") || strings.Contains(path, "//"):
		return "", errors.New("empty path component")
	}
	host = canonicalHost(host)
	if path == "" {
		return host, nil
	}
	return host + "/" + path, nil
}

// canonicalHost lower-cases a registry host, and names Docker Hub by its canonical name.
func canonicalHost(h string) string {
	h = strings.ToLower(h)
	if h == "index.docker.io" {
		return "docker.io"
	}
	return h
}

// allows reports whether the normalised repository name (host/path) is under an allowed
// registry: equal to an entry, or below it at a "/" boundary, so "ghcr.io/myorg" allows
// "ghcr.io/myorg/app" but not "ghcr.io/myorganisation/app".
func (l *allowList) allows(name string) bool {
	for _, p := range l.prefix {
		if name == p || strings.HasPrefix(name, p+"/") {
			return true
		}
	}
	return false
}

// normalizeImage reads an image reference as the container runtime does (Docker's rules):
// the first component is a registry host only if it contains "." or ":", is "localhost", or
// has upper-case letters; otherwise the image is on docker.io, and a one-component name is
// under library/. It returns the repository name (host/path) and the whole normalised
// reference with tag and digest: "nginx:1.27" is "docker.io/library/nginx" and
// "docker.io/library/nginx:1.27".
func normalizeImage(image string) (name, ref string) {
	rest, digest, _ := strings.Cut(image, "@")
	tag := ""
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		rest, tag = rest[:i], rest[i+1:]
	}
	host, path := "docker.io", rest
	if first, after, ok := strings.Cut(rest, "/"); ok &&
		(strings.ContainsAny(first, ".:") || first == "localhost" || strings.ToLower(first) != first) {
		host, path = canonicalHost(first), after
	}
	if host == "docker.io" && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	name = host + "/" + path
	ref = name
	if tag != "" {
		ref += ":" + tag
	}
	if digest != "" {
		ref += "@" + digest
	}
	return name, ref
}

// container is the part of a v1 Container the policy reads.
type container struct {
	Name  string `json:"name"`
	Image string `json:"image"`
}

// podSpec is the part of a v1 PodSpec the policy reads.
type podSpec struct {
	Containers          []container `json:"containers"`
	InitContainers      []container `json:"initContainers"`
	EphemeralContainers []container `json:"ephemeralContainers"`
}

type podTemplate struct {
	Spec podSpec `json:"spec"`
}

// workload is every shape the policy reads: a Pod's spec, a workload's spec.template, a
// CronJob's spec.jobTemplate.spec.template.
type workload struct {
	Spec struct {
		podSpec
		Template    *podTemplate `json:"template"`
		JobTemplate *struct {
			Spec struct {
				Template *podTemplate `json:"template"`
			} `json:"spec"`
		} `json:"jobTemplate"`
	} `json:"spec"`
}

// podShape says where a kind keeps its pod spec.
type podShape int

const (
	shapeNone     podShape = iota // not a kind that runs containers
	shapePod                      // spec
	shapeTemplate                 // spec.template.spec
	shapeCronJob                  // spec.jobTemplate.spec.template.spec
)

// shapes are the kinds the policy inspects, by group and kind.
var shapes = map[string]podShape{
	"/Pod":                   shapePod,
	"/ReplicationController": shapeTemplate,
	"apps/Deployment":        shapeTemplate,
	"apps/ReplicaSet":        shapeTemplate,
	"apps/StatefulSet":       shapeTemplate,
	"apps/DaemonSet":         shapeTemplate,
	"batch/Job":              shapeTemplate,
	"batch/CronJob":          shapeCronJob,
}

// podSpecOf decodes the pod spec of an object of the shape; nil when a workload has no
// template.
func podSpecOf(what string, shape podShape, raw json.RawMessage) (*podSpec, error) {
	switch t := strings.TrimSpace(string(raw)); {
	case t == "" || t == "null":
		return nil, fmt.Errorf("%w: no %s", errObject, what)
	case t[0] != '{':
		return nil, fmt.Errorf("%w: %s is not a JSON object", errObject, what)
	}
	var w workload
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, fmt.Errorf("%w: decode %s: %v", errObject, what, err)
	}
	switch shape {
	case shapePod:
		return &w.Spec.podSpec, nil
	case shapeTemplate:
		if w.Spec.Template != nil {
			return &w.Spec.Template.Spec, nil
		}
	case shapeCronJob:
		if w.Spec.JobTemplate != nil && w.Spec.JobTemplate.Spec.Template != nil {
			return &w.Spec.JobTemplate.Spec.Template.Spec, nil
		}
	}
	return nil, nil
}

// decide is the policy: it denies a request whose object runs an image from outside the
// allowed registries. The allowed registries are the request's configuration (the
// AdmissionPolicy's spec.config) or, when the request carries none, fallback (the
// plugin's configuration). Only requests that create or change containers are inspected:
// CREATE and UPDATE of the kinds in shapes, and the pods/ephemeralcontainers
// subresource. On UPDATE, an image the old object already ran passes, so that objects
// created before the policy can still be changed (relabelled, scaled, finalised). Requests
// it does not inspect are allowed before the configuration is read, so that a broken
// configuration never blocks a DELETE.
func decide(req *tug.AdmissionRequest, fallback *allowList) (*tug.AdmissionResponse, error) {
	shape := shapes[req.Kind.Group+"/"+req.Kind.Kind]
	if shape == shapeNone || req.Operation != "CREATE" && req.Operation != "UPDATE" ||
		req.SubResource != "" && req.SubResource != "ephemeralcontainers" {
		return tug.Allow(), nil
	}
	allowed, err := parseConfig(req.Config)
	switch {
	case err != nil:
		return nil, err
	case allowed == nil:
		allowed = fallback
	}
	if allowed == nil {
		return nil, fmt.Errorf("%w: no allowed registries: set registries in the AdmissionPolicy's spec.config or in the WasmPlugin's config", errConfig)
	}
	spec, err := podSpecOf("object", shape, req.Object)
	if err != nil || spec == nil {
		return tug.Allow(), err
	}
	old := map[string]bool{}
	if req.Operation == "UPDATE" && len(req.OldObject) > 0 && string(req.OldObject) != "null" {
		oldSpec, err := podSpecOf("oldObject", shape, req.OldObject)
		if err != nil {
			return nil, err
		}
		if oldSpec != nil {
			for _, c := range oldSpec.all() {
				old[c.Image] = true
			}
		}
	}

	var denied []string
	for _, c := range spec.all() {
		if c.Image == "" || old[c.Image] { // an empty image is the API server's to refuse
			continue
		}
		if name, ref := normalizeImage(c.Image); !allowed.allows(name) {
			denied = append(denied, fmt.Sprintf("%s %q uses image %q", c.role, c.Name, ref))
		}
	}
	list := strings.Join(allowed.written, ", ")
	switch len(denied) {
	case 0:
		return tug.Allow(), nil
	case 1:
		return tug.Denyf("%s, which is not from an allowed registry (allowed: %s)", denied[0], list), nil
	}
	return tug.Denyf("%d containers use images not from an allowed registry (allowed: %s): %s",
		len(denied), list, strings.Join(denied, "; ")), nil
}

// roleContainer is a container with what kind of container it is, for messages.
type roleContainer struct {
	container
	role string
}

// all lists the spec's containers, init containers and ephemeral containers.
func (s *podSpec) all() []roleContainer {
	var out []roleContainer
	for _, g := range []struct {
		role string
		cs   []container
	}{{"init container", s.InitContainers}, {"container", s.Containers}, {"ephemeral container", s.EphemeralContainers}} {
		for _, c := range g.cs {
			out = append(out, roleContainer{c, g.role})
		}
	}
	return out
}
