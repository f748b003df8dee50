package dns

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestConfig: defaults, upstreams from a resolv.conf, and the errors New reports.
func TestConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	resolv := write("resolv.conf", "# generated\nsearch example.org\nnameserver 10.0.0.2\nnameserver fd00::53\noptions ndots:2\n")
	empty := write("empty.conf", "search example.org\n")
	listen := []string{"127.0.0.1:0"}

	cfg, err := Config{Listen: listen, ResolvConf: resolv}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"10.0.0.2:53", "[fd00::53]:53"}; !slices.Equal(cfg.Upstreams, want) {
		t.Errorf("upstreams from resolv.conf %q, want %q", cfg.Upstreams, want)
	}
	if cfg.Domain != "cluster.local." || cfg.TTL != 5*time.Second || cfg.ForwardTimeout != DefaultForwardTimeout {
		t.Errorf("defaults: domain %q TTL %v timeout %v", cfg.Domain, cfg.TTL, cfg.ForwardTimeout)
	}

	cfg, err = Config{Listen: listen, Domain: "Tug.Example.", Upstreams: []string{"10.0.0.3", "10.0.0.4:5353", "[fd00::1]", "fd00::2"}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"10.0.0.3:53", "10.0.0.4:5353", "[fd00::1]:53", "[fd00::2]:53"}; !slices.Equal(cfg.Upstreams, want) {
		t.Errorf("explicit upstreams %q, want %q", cfg.Upstreams, want)
	}
	if cfg.Domain != "tug.example." {
		t.Errorf("domain %q, want tug.example.", cfg.Domain)
	}

	for _, c := range []struct {
		name string
		cfg  Config
		want error
	}{
		{"no listen address", Config{Upstreams: []string{"10.0.0.2"}}, ErrNoListen},
		{"root as the domain", Config{Listen: listen, Domain: ".", Upstreams: []string{"10.0.0.2"}}, ErrBadDomain},
		{"bad domain", Config{Listen: listen, Domain: "a..b", Upstreams: []string{"10.0.0.2"}}, ErrBadDomain},
		{"resolv.conf missing", Config{Listen: listen, ResolvConf: filepath.Join(dir, "none")}, os.ErrNotExist},
		{"no nameserver in resolv.conf", Config{Listen: listen, ResolvConf: empty}, ErrNoUpstream},
		{"upstream without a host", Config{Listen: listen, Upstreams: []string{":53"}}, ErrUpstream},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.cfg, newServiceLister(), newSliceLister())
			if !errors.Is(err, c.want) {
				t.Errorf("New: %v, want %v", err, c.want)
			}
		})
	}
	if _, err := New(Config{Listen: listen, Upstreams: []string{"10.0.0.2"}}, nil, newSliceLister()); err == nil {
		t.Error("New without a Service lister: no error")
	}
}
