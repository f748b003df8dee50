package podnet

import (
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/tugboat-io/tug/internal/nftexpr"
)

// The bridge plugin's own ipMasq adds an iptables chain and three rules for every pod, which
// costs a handful of iptables runs per pod start and stop (9% of the machine in a burst of
// pod starts, more than any other CNI plugin). One rule for the whole pod range does the same:
// traffic from a pod to anything but another pod or multicast leaves with the node's address.

// ensureMasquerade replaces the network's nftables table, in one transaction, with a table
// holding that rule, so a restarted agent rewrites rather than adds to it.
func ensureMasquerade(table string, subnet netip.Prefix) error {
	err := replaceTable(table, func(c *nftables.Conn, t *nftables.Table) {
		c.AddTable(t)
		ch := c.AddChain(&nftables.Chain{
			Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource,
		})
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: nftexpr.Concat(
			nftexpr.InPrefix(nftexpr.SaddrOffset, subnet, expr.CmpOpEq),  // ip saddr <subnet>
			nftexpr.InPrefix(nftexpr.DaddrOffset, subnet, expr.CmpOpNeq), // ip daddr != <subnet>
			nftexpr.InPrefix(nftexpr.DaddrOffset, netip.MustParsePrefix("224.0.0.0/4"), expr.CmpOpNeq),
			[]expr.Any{&expr.Counter{}, &expr.Masq{}},
		)})
	})
	if err != nil {
		return fmt.Errorf("masquerade for %s: %w", subnet, err)
	}
	return nil
}

// removeMasquerade deletes the network's table; it is not an error if there is none.
func removeMasquerade(table string) error {
	return replaceTable(table, func(*nftables.Conn, *nftables.Table) {})
}

// replaceTable deletes the IPv4 table and lets fill make it anew, all in one transaction.
func replaceTable(table string, fill func(*nftables.Conn, *nftables.Table)) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: table}
	// Adding before deleting makes the delete succeed whether or not the table existed.
	c.AddTable(t)
	c.DelTable(t)
	fill(c, t)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: table %s: %w", table, err)
	}
	return nil
}

// loopbackUp brings up the lo of the calling thread's network namespace, which is all the
// loopback CNI plugin would do for IPv4, without starting a process for it.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback: get flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback: up: %w", err)
	}
	return nil
}
