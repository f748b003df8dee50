//go:build !linux

package userspace

import (
	"errors"
	"log/slog"
	"net/netip"
)

// errNoNetlink: outside Linux there is no way here to make an address local, so ClusterIPs
// are never served; ClusterIPsAuto treats it like a missing permission.
var errNoNetlink = errors.New("userspace proxy: cluster IPs need Linux")

type iface struct {
	name string
	log  *slog.Logger
}

func (i iface) add(want map[netip.Addr]bool) error {
	if len(want) == 0 {
		return nil
	}
	return errNoNetlink
}

func (i iface) prune(map[netip.Addr]bool) error { return nil }
func (i iface) remove() error                   { return nil }

func isPermission(err error) bool { return errors.Is(err, errNoNetlink) }
