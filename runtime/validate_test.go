package runtime

import (
	"strings"
	"testing"

	"github.com/tugboat-io/tug/hostabi"
)

// TestCheckHosted: a module hosting several plugins must list them consistently with its
// exports (ABI.md §4.7); anything else refuses the module at load with the reason.
func TestCheckHosted(t *testing.T) {
	m := &Module{info: &moduleInfo{ops: map[string]bool{
		hostabi.ExportSchedPlugins: true, hostabi.ExportSchedFilterAt: true, hostabi.ExportSchedScoreAt: true,
	}}}
	for _, c := range []struct{ out, want string }{
		{`{"plugins":[{"name":"A","filter":true},{"name":"B","score":true}]}`, ""},
		{`not json`, "is not the plugin list"},
		{`{"plugins":[]}`, "lists no plugins"},
		{`{"plugins":[{"filter":true}]}`, "has no name"},
		{`{"plugins":[{"name":"A","filter":true},{"name":"A","score":true}]}`, "listed twice"},
		{`{"plugins":[{"name":"A"}]}`, "runs at no extension point"},
		{`{"plugins":[{"name":"A","score":true,"normalize":true}]}`, "does not export tug_sched_normalize_at"},
		{`{"plugins":[{"name":"A","score":true,"weight":101}]}`, "not 1..100"},
	} {
		_, err := m.checkHosted([]byte(c.out))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.out, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want an error containing %q", c.out, err, c.want)
		}
	}
	m.info.ops = map[string]bool{hostabi.ExportSchedPlugins: true, hostabi.ExportSchedScoreAt: true}
	if _, err := m.checkHosted([]byte(`{"plugins":[{"name":"A","filter":true}]}`)); err == nil || !strings.Contains(err.Error(), "does not export tug_sched_filter_at") {
		t.Errorf("a filter without filter_at: %v", err)
	}
	if _, err := m.checkHosted([]byte(`{"plugins":[{"name":"A","postFilter":true}]}`)); err == nil || !strings.Contains(err.Error(), "does not export tug_sched_postfilter_at") {
		t.Errorf("a post-filter without postfilter_at: %v", err)
	}
}
