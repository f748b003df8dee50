//go:build linux

package userspace

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ifaceAlias marks the interfaces this package created. The interface's name comes from
// configuration, and Cleanup deletes it: the mark keeps a typo from deleting a real one.
const ifaceAlias = "tug userspace proxy: service cluster IPs"

// iface holds the ClusterIPs, each as a /32 (/128), on an interface that carries no traffic
// of its own, as kube-ipvs0 does for kube-proxy's IPVS mode: an address on any interface is
// local, so the proxier can bind to it, and packets to it from the node or its pods are
// delivered to the proxier. The interface stays down; local delivery needs only the address.
type iface struct {
	name string
	log  *slog.Logger
}

// link returns the interface, creating it if create is set; nil, nil when it does not exist
// and create is not set.
func (i iface) link(create bool) (netlink.Link, error) {
	l, err := netlink.LinkByName(i.name)
	if err == nil {
		if l.Type() != "dummy" && l.Attrs().Alias != ifaceAlias {
			return nil, fmt.Errorf("%w: %s is a %s interface", ErrForeignInterface, i.name, l.Type())
		}
		return l, nil
	}
	if _, ok := errors.AsType[netlink.LinkNotFoundError](err); !ok {
		return nil, fmt.Errorf("find interface %s: %w", i.name, err)
	}
	if !create {
		return nil, nil
	}
	attrs := netlink.NewLinkAttrs()
	attrs.Name = i.name
	var created netlink.Link = &netlink.Dummy{LinkAttrs: attrs}
	err = netlink.LinkAdd(created)
	if errors.Is(err, unix.EOPNOTSUPP) {
		// A kernel built without the dummy driver (some microVM kernels). A bridge with no
		// ports, kept down, forwards nothing and holds addresses the same way.
		created = &netlink.Bridge{LinkAttrs: attrs}
		err = netlink.LinkAdd(created)
	}
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("create interface %s: %w", i.name, err)
	}
	if l, err = netlink.LinkByName(i.name); err != nil {
		return nil, fmt.Errorf("find interface %s: %w", i.name, err)
	}
	if err := netlink.LinkSetAlias(l, ifaceAlias); err != nil {
		return nil, fmt.Errorf("mark interface %s: %w", i.name, err)
	}
	l.Attrs().Alias = ifaceAlias
	i.log.Info("created the interface for cluster IPs", "interface", i.name, "type", created.Type())
	return l, nil
}

// addrs lists the host addresses on l: the ones this package adds. Others (an IPv6
// link-local, if someone brought the interface up) are not ours to remove.
func (i iface) addrs(l netlink.Link) (map[netip.Addr]bool, error) {
	var list []netlink.Addr
	var err error
	for range 3 { // a dump interrupted by a concurrent change is simply retried
		if list, err = netlink.AddrList(l, netlink.FAMILY_ALL); !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s: %w", i.name, err)
	}
	have := make(map[netip.Addr]bool, len(list))
	for _, a := range list {
		ip, ok := netip.AddrFromSlice(a.IP)
		ones, bits := a.Mask.Size()
		if !ok || ones != bits || ip.Unmap().IsLinkLocalUnicast() {
			continue
		}
		have[ip.Unmap()] = true
	}
	return have, nil
}

// add puts every address of want on the interface, creating it first.
func (i iface) add(want map[netip.Addr]bool) error {
	if len(want) == 0 {
		return nil
	}
	l, err := i.link(true)
	if err != nil {
		return err
	}
	have, err := i.addrs(l)
	if err != nil {
		return err
	}
	var errs []error
	for _, ip := range sortedAddrs(want) {
		if have[ip] {
			continue
		}
		if err := netlink.AddrAdd(l, hostAddr(ip)); err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, fmt.Errorf("add %s to %s: %w", ip, i.name, err))
		}
	}
	return errors.Join(errs...)
}

// prune removes the addresses not in want.
func (i iface) prune(want map[netip.Addr]bool) error {
	l, err := i.link(false)
	if err != nil || l == nil {
		return err
	}
	have, err := i.addrs(l)
	if err != nil {
		return err
	}
	var errs []error
	for _, ip := range sortedAddrs(have) {
		if want[ip] {
			continue
		}
		if err := netlink.AddrDel(l, hostAddr(ip)); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			errs = append(errs, fmt.Errorf("remove %s from %s: %w", ip, i.name, err))
		}
	}
	return errors.Join(errs...)
}

// remove deletes the interface and with it every address.
func (i iface) remove() error {
	l, err := i.link(false)
	if err != nil || l == nil {
		return err
	}
	if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete interface %s: %w", i.name, err)
	}
	return nil
}

func hostAddr(ip netip.Addr) *netlink.Addr {
	bits := ip.BitLen()
	return &netlink.Addr{IPNet: &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(bits, bits)}}
}

func sortedAddrs(set map[netip.Addr]bool) []netip.Addr {
	out := make([]netip.Addr, 0, len(set))
	for ip := range set {
		out = append(out, ip)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// isPermission reports whether err means the process may not change interfaces.
func isPermission(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES)
}
