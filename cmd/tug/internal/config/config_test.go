package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func flags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.String(FileFlag, "", "")
	fs.String("data-dir", "./.tug", "")
	fs.String("listen", "127.0.0.1:6443", "")
	fs.String("etcd-endpoints", "", "")
	fs.Duration("ready-timeout", time.Minute, "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tug.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPrecedence checks flag > env > file > default for one setting.
func TestPrecedence(t *testing.T) {
	file := writeFile(t, "data-dir: /from/file\n")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"default", nil, nil, "./.tug"},
		{"file over default", []string{"--config", file}, nil, "/from/file"},
		{"file named by env", nil, map[string]string{"TUG_CONFIG": file}, "/from/file"},
		{"env over file", []string{"--config", file}, map[string]string{"TUG_DATA_DIR": "/from/env"}, "/from/env"},
		{"flag over env", []string{"--config", file, "--data-dir", "/from/flag"}, map[string]string{"TUG_DATA_DIR": "/from/env"}, "/from/flag"},
		{"flag equal to default still wins", []string{"--data-dir", "./.tug"}, map[string]string{"TUG_DATA_DIR": "/from/env"}, "./.tug"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			s, err := Load(flags(t, tt.args...))
			if err != nil {
				t.Fatal(err)
			}
			if got := s.String("data-dir"); got != tt.want {
				t.Errorf("data-dir = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestList(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  string
		file string
		want []string
	}{
		{"unset", nil, "", "", nil},
		{"flag", []string{"--etcd-endpoints", "a:1, b:2,,"}, "", "", []string{"a:1", "b:2"}},
		{"env", nil, "a:1,b:2", "", []string{"a:1", "b:2"}},
		{"file list", nil, "", "etcd-endpoints: [a:1, b:2]\n", []string{"a:1", "b:2"}},
		{"file string", nil, "", "etcd-endpoints: a:1,b:2\n", []string{"a:1", "b:2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("TUG_ETCD_ENDPOINTS", tt.env)
			}
			args := tt.args
			if tt.file != "" {
				args = append(args, "--config", writeFile(t, tt.file))
			}
			s, err := Load(flags(t, args...))
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.List("etcd-endpoints")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("List = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		file    string
		want    time.Duration
		wantErr string
	}{
		{"default", nil, "", time.Minute, ""},
		{"flag", []string{"--ready-timeout", "5s"}, "", 5 * time.Second, ""},
		{"file", nil, "ready-timeout: 2m\n", 2 * time.Minute, ""},
		{"file without unit", nil, "ready-timeout: 60\n", 0, "with a unit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.file != "" {
				args = append(args, "--config", writeFile(t, tt.file))
			}
			s, err := Load(flags(t, args...))
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Duration("ready-timeout")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Duration err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Duration = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestFileErrors(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		wantErr string
		unknown []string
	}{
		{"unknown keys reported", "listen: 1.2.3.4:1\nlisen: x\nzzz: 1\n", "", []string{"lisen", "zzz"}},
		{"config key in file", "config: other.yaml\n", "cannot be set", nil},
		{"not yaml", "listen: [\n", "parse config file", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Load(flags(t, "--config", writeFile(t, tt.file)))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(s.UnknownKeys, tt.unknown) {
				t.Errorf("UnknownKeys = %q, want %q", s.UnknownKeys, tt.unknown)
			}
		})
	}
	if _, err := Load(flags(t, "--config", filepath.Join(t.TempDir(), "missing.yaml"))); err == nil {
		t.Error("Load with a missing config file succeeded")
	}
}

func TestEnvVar(t *testing.T) {
	if got := EnvVar("etcd-client-listen"); got != "TUG_ETCD_CLIENT_LISTEN" {
		t.Errorf("EnvVar = %q", got)
	}
}

func TestInt64RejectsNonIntegers(t *testing.T) {
	t.Setenv("TUG_WATCH_CACHE_SIZE", "lots")
	fs := flags(t)
	fs.Int("watch-cache-size", 10000, "")
	s, err := Load(fs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Int64("watch-cache-size"); err == nil || !strings.Contains(err.Error(), "TUG_WATCH_CACHE_SIZE") {
		t.Fatalf("got %v, want an error naming TUG_WATCH_CACHE_SIZE", err)
	}
	t.Setenv("TUG_WATCH_CACHE_SIZE", "500")
	if s, err = Load(fs); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Int64("watch-cache-size"); err != nil || n != 500 {
		t.Fatalf("got %d, %v; want 500", n, err)
	}
}

func TestFloat64(t *testing.T) {
	fs := flags(t)
	fs.Float32("kube-api-qps", 200, "")
	fs.Float32("event-qps", 100, "")
	if err := fs.Parse([]string{"--kube-api-qps", "12.5"}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TUG_EVENT_QPS", "many")
	s, err := Load(fs)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := s.Float64("kube-api-qps"); err != nil || f != 12.5 {
		t.Fatalf("got %v, %v; want 12.5", f, err)
	}
	if _, err := s.Float64("event-qps"); err == nil || !strings.Contains(err.Error(), "TUG_EVENT_QPS") {
		t.Fatalf("got %v, want an error naming TUG_EVENT_QPS", err)
	}
}
