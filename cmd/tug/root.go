package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/tugboat-io/tug/cmd/tug/internal/config"
	"github.com/tugboat-io/tug/core/admission"
	"github.com/tugboat-io/tug/internal/version"
)

// app is what every subcommand shares: resolved settings, the logger and the output streams.
type app struct {
	stdout, stderr io.Writer
	settings       *config.Settings
	// log is the root logger; each component adds its own component attribute.
	log *slog.Logger
	// admission is the API server's admission chain (nil: --admission=false, or no server).
	admission *admission.Chain
	// sec is the API server's TLS, authentication and authorization (nil: --secure=false, or
	// no server in this process).
	sec *security
}

// logger returns the logger for one component.
func (a *app) logger(component string) *slog.Logger { return a.log.With("component", component) }

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	a := &app{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "tug",
		Short: "tug is a Kubernetes-compatible container orchestrator with WebAssembly policy plugins",
		Long: `tug is a Kubernetes-compatible container orchestrator: real kubectl and client-go work
against it, etcd is its store, and every policy is a WebAssembly plugin.

Every flag can also be set with a TUG_* environment variable (--data-dir → TUG_DATA_DIR) or in
the YAML file named by --config (keys are flag names). Flags win over the environment, which
wins over the file.`,
		Version:       version.Version,
		SilenceErrors: true, // main prints the error once
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			// Past flag parsing, errors are not usage errors.
			cmd.SilenceUsage = true
			return a.setup(cmd)
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate(version.String() + "\n")
	pf := root.PersistentFlags()
	pf.String(config.FileFlag, "", "YAML config file whose keys are flag names (env TUG_CONFIG)")
	pf.String("log-level", "info", "log level: debug, info, warn or error")
	pf.String("log-format", "text", "log format: text or json (logs go to stderr)")

	root.AddCommand(newUpCmd(a), newServerCmd(a), newEtcdCmd(a), newPluginCmd(a), newSimCmd(a), newNodeCmd(a), newImageCmd(a), newLogDriverCmd(), newExplainCmd(a), newTokenCmd(a), newVersionCmd(a))
	return root
}

// setup resolves the settings of the command about to run and builds the logger.
func (a *app) setup(cmd *cobra.Command) error {
	s, err := config.Load(cmd.Flags())
	if err != nil {
		return err
	}
	a.settings = s
	log, err := newLogger(a.stderr, s.String("log-level"), s.String("log-format"))
	if err != nil {
		return err
	}
	a.log = log
	slog.SetDefault(log)
	// client-go (leader election, informers) logs through klog: into the same log, with the
	// errors of requests a shutdown cancels (it logs those as errors) at debug.
	klog.SetSlogLogger(slog.New(canceledAtDebug{log.Handler()}).With("component", "client-go"))
	if len(s.UnknownKeys) > 0 {
		a.logger("tug").Warn("config file keys name no flag of this command; ignored",
			"file", s.File, "command", cmd.Name(), "keys", s.UnknownKeys)
	}
	return nil
}

// newLogger returns a slog logger writing to w.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", format)
	}
}

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print tug's version and the Kubernetes API version it serves",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(a.stdout, version.String())
			return err
		},
	}
}

// canceledAtDebug logs at debug the error records that only say a request was cancelled,
// which client-go writes when the process stops mid-request.
type canceledAtDebug struct{ slog.Handler }

func (h canceledAtDebug) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		canceled := false
		r.Attrs(func(a slog.Attr) bool {
			if err, ok := a.Value.Any().(error); ok && (errors.Is(err, context.Canceled) || strings.HasSuffix(err.Error(), context.Canceled.Error())) {
				canceled = true
			}
			return !canceled
		})
		if canceled {
			if !h.Handler.Enabled(ctx, slog.LevelDebug) {
				return nil
			}
			demoted := slog.NewRecord(r.Time, slog.LevelDebug, r.Message, r.PC)
			r.Attrs(func(a slog.Attr) bool { demoted.AddAttrs(a); return true })
			r = demoted
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h canceledAtDebug) WithAttrs(as []slog.Attr) slog.Handler {
	return canceledAtDebug{h.Handler.WithAttrs(as)}
}

func (h canceledAtDebug) WithGroup(name string) slog.Handler {
	return canceledAtDebug{h.Handler.WithGroup(name)}
}
