package main

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"html"
	"strings"

	tug "github.com/tugboat-io/tug/sdk/go"
)

// Config is the plugin's configuration.
type Config struct {
	// Footer is appended to every page: which version of the controller made it.
	Footer string `json:"footer"`
}

var config Config

func configure(raw []byte) error {
	var c Config
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	config = c
	return nil
}

// Website is the custom resource.
type Website struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name       string `json:"name"`
		Generation int64  `json:"generation"`
	} `json:"metadata"`
	Spec struct {
		Title    string `json:"title"`
		Message  string `json:"message"`
		Replicas *int32 `json:"replicas,omitempty"`
		Image    string `json:"image,omitempty"`
	} `json:"spec"`
}

// Status is what the controller reports on a Website.
type Status struct {
	ObservedGeneration int64  `json:"observedGeneration"`
	Replicas           int32  `json:"replicas"`
	AvailableReplicas  int32  `json:"availableReplicas"`
	Page               string `json:"page"`
	Phase              string `json:"phase"`
}

// Keys of the children in a reconcile.
var (
	ConfigMapKey  = tug.ObjectKey("v1", "ConfigMap")
	DeploymentKey = tug.ObjectKey("apps/v1", "Deployment")
)

// Reconcile declares a Website's two children and computes its status.
func Reconcile(req *tug.ReconcileRequest) (*tug.ReconcileResult, error) {
	var w Website
	if err := req.DecodeParent(&w); err != nil {
		return nil, err
	}
	replicas := int32(1)
	if w.Spec.Replicas != nil {
		replicas = *w.Spec.Replicas
	}
	image := w.Spec.Image
	if image == "" {
		image = "nginx"
	}
	page := renderPage(w.Spec.Title, w.Spec.Message, config.Footer)
	sum := fnv.New32a()
	sum.Write([]byte(page))
	hash := fmt.Sprintf("%08x", sum.Sum32())
	name := w.Metadata.Name
	labels := map[string]string{"app.kubernetes.io/name": "website", "website.example.tug.dev/name": name}

	res := &tug.ReconcileResult{}
	if err := res.AddChild(map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name + "-page", "labels": labels},
		"data":     map[string]string{"index.html": page},
	}); err != nil {
		return nil, err
	}
	if err := res.AddChild(map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": name, "labels": labels},
		"spec": map[string]any{
			"replicas": replicas,
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{
				// The page's hash rolls the pods when the page changes.
				"metadata": map[string]any{"labels": labels, "annotations": map[string]string{"website.example.tug.dev/page": hash}},
				"spec": map[string]any{
					"containers": []any{map[string]any{"name": "web", "image": image,
						"ports":        []any{map[string]any{"containerPort": 80}},
						"volumeMounts": []any{map[string]any{"name": "page", "mountPath": "/usr/share/nginx/html"}}}},
					"volumes": []any{map[string]any{"name": "page", "configMap": map[string]any{"name": name + "-page"}}},
				},
			},
		},
	}); err != nil {
		return nil, err
	}

	st := Status{ObservedGeneration: w.Metadata.Generation, Page: hash, Phase: "Pending"}
	for _, raw := range req.Children[DeploymentKey] {
		var d struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Status struct {
				Replicas          int32 `json:"replicas"`
				AvailableReplicas int32 `json:"availableReplicas"`
			} `json:"status"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, fmt.Errorf("decode deployment: %w", err)
		}
		if d.Metadata.Name == name {
			st.Replicas, st.AvailableReplicas = d.Status.Replicas, d.Status.AvailableReplicas
		}
	}
	if st.AvailableReplicas >= replicas {
		st.Phase = "Serving"
	}
	if err := res.SetStatus(st); err != nil {
		return nil, err
	}
	return res, nil
}

func renderPage(title, message, footer string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<!doctype html>\n<title>%s</title>\n<h1>%s</h1>\n<p>%s</p>\n", html.EscapeString(title),
		html.EscapeString(title), html.EscapeString(message))
	if footer != "" {
		fmt.Fprintf(&b, "<footer>%s</footer>\n", html.EscapeString(footer))
	}
	return b.String()
}
