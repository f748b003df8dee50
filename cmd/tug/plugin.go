package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

const pluginsPath = "/apis/plugins.tug.dev/v1alpha1/wasmplugins"

func newPluginCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "Build, push, list, inspect and remove WebAssembly plugins",
	}
	cmd.PersistentFlags().String("kubeconfig", "", "kubeconfig of the cluster (default $KUBECONFIG, else ./.tug/kubeconfig)")
	build := &cobra.Command{
		Use:   "build DIR",
		Short: "Build a Go plugin to WebAssembly with the standard toolchain",
		Long: `Build the Go plugin in DIR with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared,
the way the host loads plugins (no TinyGo needed).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, _ := cmd.Flags().GetString("output")
			if out == "" {
				out = filepath.Base(filepath.Clean(args[0])) + ".wasm"
			}
			abs, err := filepath.Abs(out)
			if err != nil {
				return err
			}
			c := exec.CommandContext(cmd.Context(), "go", "build", "-buildmode=c-shared", "-o", abs, ".")
			c.Dir = args[0]
			c.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
			c.Stdout, c.Stderr = a.stdout, a.stderr
			if err := c.Run(); err != nil {
				return fmt.Errorf("go build: %w", err)
			}
			_, err = fmt.Fprintln(a.stdout, abs)
			return err
		},
	}
	build.Flags().StringP("output", "o", "", "output file (default DIR's name with .wasm)")

	push := &cobra.Command{
		Use:   "push NAME FILE.wasm",
		Short: "Upload a module and point the WasmPlugin NAME at it, creating the plugin if needed",
		Long: `Upload FILE.wasm to the cluster (streamed; modules larger than etcd's request limit are
fine) and point the WasmPlugin NAME at it. The cluster refuses bytes that do not match the
digest computed here. A new plugin needs --kind.`,
		Example: `  tug plugin push zone-filter zone.wasm --kind scheduler-filter --plugin-config '{"label":"zone"}'`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newPluginClient(cmd)
			if err != nil {
				return err
			}
			return cl.push(cmd, a.stdout, args[0], args[1])
		},
	}
	push.Flags().StringSlice("kind", nil, "plugin kinds the module implements: scheduler-filter, scheduler-score, admission, controller")
	push.Flags().String("plugin-config", "", "the plugin's configuration: a JSON object, or @FILE (JSON or YAML)")
	push.Flags().String("failure-policy", "", "Fail or Ignore")

	ls := &cobra.Command{
		Use:   "ls",
		Short: "List the cluster's WasmPlugins",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := newPluginClient(cmd)
			if err != nil {
				return err
			}
			return cl.list(cmd.Context(), a.stdout)
		},
	}
	inspect := &cobra.Command{
		Use:   "inspect NAME",
		Short: "Show a WasmPlugin, its status and the size of its module",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newPluginClient(cmd)
			if err != nil {
				return err
			}
			return cl.inspect(cmd.Context(), a.stdout, args[0])
		},
	}
	rm := &cobra.Command{
		Use:   "rm NAME...",
		Short: "Remove WasmPlugins",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newPluginClient(cmd)
			if err != nil {
				return err
			}
			for _, n := range args {
				if err := cl.do(cmd.Context(), http.MethodDelete, pluginsPath+"/"+n, "", nil, nil); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "wasmplugin %q removed\n", n)
			}
			return nil
		},
	}
	cmd.AddCommand(build, push, ls, inspect, rm)
	return cmd
}

// pluginClient talks to the API server with the kubeconfig's credentials.
type pluginClient struct {
	base string
	http *http.Client
}

func newPluginClient(cmd *cobra.Command) (*pluginClient, error) {
	path, _ := cmd.Flags().GetString("kubeconfig")
	cfg, err := clientConfig(path)
	if err != nil {
		return nil, err
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	return &pluginClient{base: strings.TrimSuffix(cfg.Host, "/"), http: hc}, nil
}

// apiError is a Status the server answered with.
type apiError struct {
	Code    int
	Message string
}

func (e *apiError) Error() string { return e.Message }

func (c *pluginClient) do(ctx context.Context, method, path, ctype string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	return c.send(req, out)
}

// send performs req and decodes the answer into out (an io.Writer gets the raw body); a
// Status answer becomes an *apiError.
func (c *pluginClient) send(req *http.Request, out any) error {
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var st metav1.Status
		if json.Unmarshal(b, &st) == nil && st.Message != "" {
			return &apiError{Code: resp.StatusCode, Message: st.Message}
		}
		return &apiError{Code: resp.StatusCode, Message: fmt.Sprintf("%s %s: %s", req.Method, req.URL.Path, resp.Status)}
	}
	if out != nil {
		if w, ok := out.(io.Writer); ok {
			_, err = w.Write(b)
			return err
		}
		return json.Unmarshal(b, out)
	}
	return nil
}

func (c *pluginClient) push(cmd *cobra.Command, stdout io.Writer, name, file string) error {
	ctx := cmd.Context()
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	digest := "sha256:" + hex.EncodeToString(h.Sum(nil))
	kinds, _ := cmd.Flags().GetStringSlice("kind")
	cfgFlag, _ := cmd.Flags().GetString("plugin-config")
	policy, _ := cmd.Flags().GetString("failure-policy")
	var config *runtime.RawExtension
	if cfgFlag != "" {
		raw := []byte(cfgFlag)
		if p, ok := strings.CutPrefix(cfgFlag, "@"); ok {
			if raw, err = os.ReadFile(p); err != nil {
				return err
			}
			if raw, err = yaml.YAMLToJSON(raw); err != nil {
				return fmt.Errorf("--plugin-config %s: %w", p, err)
			}
		}
		config = &runtime.RawExtension{Raw: raw}
	}

	var cur pluginsv1alpha1.WasmPlugin
	err = c.do(ctx, http.MethodGet, pluginsPath+"/"+name, "", nil, &cur)
	var ae *apiError
	switch {
	case errors.As(err, &ae) && ae.Code == http.StatusNotFound:
		if len(kinds) == 0 {
			return fmt.Errorf("plugin %q does not exist yet: say what it implements with --kind", name)
		}
		p := pluginsv1alpha1.WasmPlugin{
			TypeMeta:   metav1.TypeMeta{APIVersion: pluginsv1alpha1.SchemeGroupVersion.String(), Kind: "WasmPlugin"},
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: pluginsv1alpha1.WasmPluginSpec{Kinds: kinds, Module: pluginsv1alpha1.ModuleSource{Digest: digest},
				Config: config, FailurePolicy: policy},
		}
		b, _ := json.Marshal(p)
		if err := c.do(ctx, http.MethodPost, pluginsPath, "application/json", bytes.NewReader(b), nil); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		patch := map[string]any{}
		if len(kinds) > 0 {
			patch["kinds"] = kinds
		}
		if config != nil {
			patch["config"] = json.RawMessage(config.Raw)
		}
		if policy != "" {
			patch["failurePolicy"] = policy
		}
		if len(patch) > 0 {
			b, _ := json.Marshal(map[string]any{"spec": patch})
			if err := c.do(ctx, http.MethodPatch, pluginsPath+"/"+name, "application/merge-patch+json", bytes.NewReader(b), nil); err != nil {
				return err
			}
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := c.do(ctx, http.MethodPut, pluginsPath+"/"+name+"/module?digest="+digest, "application/wasm", f, nil); err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "wasmplugin %q → %s (%d bytes)\n", name, digest, size)
	return err
}

// list prints the server's own Table for WasmPlugins, as kubectl get does, so the columns are
// defined in one place (core/api).
func (c *pluginClient) list(ctx context.Context, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+pluginsPath, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	var t metav1.Table
	if err := c.send(req, &t); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	var cols []int
	var head []string
	for i, col := range t.ColumnDefinitions {
		if col.Priority == 0 {
			cols = append(cols, i)
			head = append(head, strings.ToUpper(col.Name))
		}
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, row := range t.Rows {
		cells := make([]string, 0, len(cols))
		for _, i := range cols {
			if i < len(row.Cells) {
				cells = append(cells, fmt.Sprint(row.Cells[i]))
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

func (c *pluginClient) inspect(ctx context.Context, w io.Writer, name string) error {
	var p pluginsv1alpha1.WasmPlugin
	if err := c.do(ctx, http.MethodGet, pluginsPath+"/"+name, "", nil, &p); err != nil {
		return err
	}
	p.ManagedFields = nil
	b, err := yaml.Marshal(p)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	var module bytes.Buffer
	if err := c.do(ctx, http.MethodGet, pluginsPath+"/"+name+"/module", "", nil, &module); err != nil {
		_, err = fmt.Fprintf(w, "# module: not held by the cluster (%v)\n", err)
		return err
	}
	_, err = fmt.Fprintf(w, "# module: %d bytes, %s\n", module.Len(), p.Spec.Module.Digest)
	return err
}
