package abitest

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/tugboat-io/tug/hostabi"
)

// fakeGuest is a native stand-in for a module: a filter and an admission plugin, conformant
// unless a flaw is switched on.
type fakeGuest struct{ flaw string }

func (g fakeGuest) Has(e string) bool {
	switch e {
	case hostabi.ExportMemory, hostabi.ExportABIVersion, hostabi.ExportAlloc, hostabi.ExportSchedNodes,
		hostabi.ExportSchedPreFilter, hostabi.ExportSchedFilter, hostabi.ExportAdmit:
		return true
	}
	return false
}

func (g fakeGuest) Call(e string, in []byte) ([]byte, hostabi.Status, error) {
	switch e {
	case hostabi.ExportSchedNodes:
		var c hostabi.NodeChanges
		if err := json.Unmarshal(in, &c); err != nil {
			if g.flaw == "trap-on-garbage" {
				return nil, hostabi.StatusError, errors.New("wasm error: unreachable")
			}
			return []byte("bad node changes"), hostabi.StatusInvalidInput, nil
		}
		return nil, hostabi.StatusOK, nil
	case hostabi.ExportSchedPreFilter:
		return nil, hostabi.StatusOK, nil
	case hostabi.ExportSchedFilter:
		ids, err := hostabi.DecodeNodeIDs(in)
		if err != nil {
			return []byte(err.Error()), hostabi.StatusInvalidInput, nil
		}
		switch g.flaw {
		case "garbage-frame":
			return []byte{1, 2, 3}, hostabi.StatusOK, nil
		case "reject-stranger":
			return hostabi.AppendFilterOutput(nil, []hostabi.Rejection{{NodeID: 99, Code: hostabi.CodeUnschedulable, Reason: "no"}}), hostabi.StatusOK, nil
		}
		var rs []hostabi.Rejection
		for _, id := range ids {
			if id%2 == 0 {
				rs = append(rs, hostabi.Rejection{NodeID: id, Code: hostabi.CodeUnschedulable, Reason: "even"})
			}
		}
		return hostabi.AppendFilterOutput(nil, rs), hostabi.StatusOK, nil
	case hostabi.ExportAdmit:
		var r hostabi.AdmissionRequest
		if err := json.Unmarshal(in, &r); err != nil {
			return []byte("bad request"), hostabi.StatusInvalidInput, nil
		}
		if g.flaw == "deny-silently" {
			return []byte(`{"allowed":false}`), hostabi.StatusOK, nil
		}
		return []byte(`{"allowed":true}`), hostabi.StatusOK, nil
	}
	return []byte("unsupported"), hostabi.StatusUnsupported, nil
}

func TestConformantFakePasses(t *testing.T) {
	RunGuest(t, fakeGuest{})
}

// TestKitCatchesFlaws runs the kit against flawed guests in a child test process (the kit
// fails the test it is given) and checks each flaw is reported.
func TestKitCatchesFlaws(t *testing.T) {
	if os.Getenv("ABITEST_FLAW") != "" {
		t.Skip("inside a child run")
	}
	flaws := map[string]string{
		"garbage-frame":   "filter output is not the frame",
		"reject-stranger": "rejected node 99, which was not a candidate",
		"trap-on-garbage": "the call did not complete",
		"deny-silently":   "a denial without status.message",
	}
	for flaw, want := range flaws {
		t.Run(flaw, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestFlawedGuest$", "-test.v")
			cmd.Env = append(os.Environ(), "ABITEST_FLAW="+flaw)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the kit passed a guest with flaw %s:\n%s", flaw, out)
			}
			if !strings.Contains(string(out), want) {
				t.Fatalf("the kit failed, but not with %q:\n%s", want, out)
			}
		})
	}
}

// TestFlawedGuest is run by TestKitCatchesFlaws in a child process.
func TestFlawedGuest(t *testing.T) {
	flaw := os.Getenv("ABITEST_FLAW")
	if flaw == "" {
		t.Skip("run by TestKitCatchesFlaws with ABITEST_FLAW set")
	}
	RunGuest(t, fakeGuest{flaw: flaw})
}
