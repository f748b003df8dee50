//go:build !linux

package nftables

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"time"

	"github.com/tugboat-io/tug/core/proxy"
)

const DefaultTable = "tug-proxy"

type Config struct {
	Table            string
	PodCIDR          netip.Prefix
	FullSyncInterval time.Duration
	Logger           *slog.Logger
}

type Proxier struct{}

var errNotLinux = errors.New("nftables: needs Linux")

func New(Config) (*Proxier, error)                       { return nil, errNotLinux }
func Available() error                                   { return errNotLinux }
func (*Proxier) Sync(context.Context, proxy.State) error { return errNotLinux }
func (*Proxier) Cleanup(context.Context) error           { return errNotLinux }
