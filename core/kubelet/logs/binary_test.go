package logs

import (
	"net/url"
	"slices"
	"testing"
)

// shimArgv is the command line containerd 1.7's shim makes of a binary:// URI
// (pkg/process.NewBinaryCmd), after parsing the URI's text as the shim does.
func shimArgv(t *testing.T, uri string) []string {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "binary" {
		t.Fatalf("scheme %q, want binary", u.Scheme)
	}
	argv := []string{u.Path}
	for k, vs := range u.Query() {
		argv = append(argv, k)
		if len(vs) > 0 {
			argv = append(argv, vs[0])
		}
	}
	return argv
}

func TestBinaryURI(t *testing.T) {
	tests := []struct {
		name     string
		logger   string
		command  string
		logPath  string
		wantArgv []string
		wantErr  bool
	}{{
		name:     "runs the logger's command with the log path",
		logger:   "/usr/local/bin/tug",
		command:  "container-logger",
		logPath:  "/var/lib/tug/pods/default_web_1234/app/0.log",
		wantArgv: []string{"/usr/local/bin/tug", "container-logger", "/var/lib/tug/pods/default_web_1234/app/0.log"},
	}, {
		name:     "paths with characters a URI escapes",
		logger:   "/opt/my tools/tug#1",
		command:  "log&rotate=no",
		logPath:  "/logs/a b/c?d&e=f%20/0.log",
		wantArgv: []string{"/opt/my tools/tug#1", "log&rotate=no", "/logs/a b/c?d&e=f%20/0.log"},
	}, {
		name:     "paths are cleaned",
		logger:   "/usr/bin/../bin/tug",
		command:  "logger",
		logPath:  "/logs/0.log",
		wantArgv: []string{"/usr/bin/tug", "logger", "/logs/0.log"},
	}, {
		name:    "a relative logger is refused",
		logger:  "tug",
		command: "logger",
		logPath: "/logs/0.log",
		wantErr: true,
	}, {
		name:    "a relative log path is refused",
		logger:  "/usr/bin/tug",
		command: "logger",
		logPath: "logs/0.log",
		wantErr: true,
	}, {
		name:    "an empty command is refused",
		logger:  "/usr/bin/tug",
		logPath: "/logs/0.log",
		wantErr: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := BinaryURI(tt.logger, tt.command, tt.logPath)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("BinaryURI = %v, want an error", u)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if argv := shimArgv(t, u.String()); !slices.Equal(argv, tt.wantArgv) {
				t.Errorf("shim runs %q, want %q", argv, tt.wantArgv)
			}
		})
	}
}
