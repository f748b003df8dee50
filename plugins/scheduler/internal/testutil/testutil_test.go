package testutil

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/tugboat-io/tug/plugins/scheduler/nodename"
)

func TestMatches(t *testing.T) {
	for _, c := range []struct {
		got, want string
		ok        bool
	}{
		{"n=ok", "n=ok", true},
		{"n=ok", "n=o", false},
		{"n=Error:bad: detail", "n=Error:bad: …", true},
		{"n=Error:worse", "n=Error:bad: …", false},
	} {
		if matches(c.got, c.want) != c.ok {
			t.Errorf("matches(%q, %q) = %v", c.got, c.want, !c.ok)
		}
	}
}

// The wasm module and the test binary host the same plugins in the same order, so an index
// means the same plugin on both sides.
func TestSamePlugins(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the wasm module with the Go toolchain; skipped in -short runs")
	}
	// Opening the wasm backend fails the test when its plugins differ from the native ones.
	n := open(t, "native").state().plugins
	open(t, "wasm")
	if len(n) == 0 || n[0].Name != nodename.Name {
		t.Fatalf("the test binary hosts %+v, want the default plugins, NodeName first", n)
	}
}

// The harness fails a case whose answer differs from the expectation, on each backend, and
// says so when the backends disagree. Checked in a child test process, since the cases fail.
func TestHarnessFails(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the wasm module with the Go toolchain; skipped in -short runs")
	}
	if os.Getenv("TESTUTIL_CHILD") != "" {
		t.Skip("inside a child run")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFailing$", "-test.v")
	cmd.Env = append(os.Environ(), "TESTUTIL_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the failing cases passed:\n%s", out)
	}
	for _, want := range []string{
		"--- FAIL: TestFailing/wrong/native", "--- FAIL: TestFailing/wrong/wasm", "want n1=ok",
		"--- PASS: TestFailing/disagree/native", "--- FAIL: TestFailing/disagree/wasm", "native and wasm disagree",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the child's output lacks %q:\n%s", want, out)
		}
	}
}

// TestFailing is run by TestHarnessFails with TESTUTIL_CHILD set.
func TestFailing(t *testing.T) {
	if os.Getenv("TESTUTIL_CHILD") == "" {
		t.Skip("run by TestHarnessFails")
	}
	c := Cycle{Plugin: nodename.Name, Nodes: Nodes(`{"metadata":{"name":"n1"}}`), Pod: `{"spec":{"nodeName":"n2"}}`}
	t.Run("wrong", func(t *testing.T) { Filter(t, c, "n1=ok") })
	t.Run("disagree", func(t *testing.T) {
		both(t, "same", func(t *testing.T, b backend) string {
			if b == open(t, "wasm") {
				return "different"
			}
			return "same"
		})
	})
}
