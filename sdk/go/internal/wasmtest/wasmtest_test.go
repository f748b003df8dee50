package wasmtest

import (
	"testing"

	"github.com/tugboat-io/tug/hostabi"
)

// A module exports exactly the kinds whose packages it imports: this one imports every kind
// but filter.
func TestKindsExportOnlyTheirOperations(t *testing.T) {
	m, err := Parse(Build(t, "testdata/allbutfilter"))
	if err != nil {
		t.Fatal(err)
	}
	CheckABI(t, m, WantExports(hostabi.KindSchedulerScore, hostabi.KindAdmission, hostabi.KindController))
	if _, ok := m.Exports[hostabi.ExportSchedFilter]; ok {
		t.Errorf("module exports %s without importing kinds/filter", hostabi.ExportSchedFilter)
	}
}
