package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tugboat-io/tug/core/proxy"
	"github.com/tugboat-io/tug/core/proxy/nftables"
	"github.com/tugboat-io/tug/core/proxy/userspace"
)

// syntheticState is n service ports with e endpoints each and a NodePort on every tenth.
// ClusterIPs count up from 10.240.0.1 and endpoints from 10.241.0.1, all distinct; with
// changed, the first endpoint of the middle service moves to 10.241.250.1, outside them.
func syntheticState(n, e int, changed bool) proxy.State {
	st := proxy.State{Services: make([]proxy.ServicePort, n)}
	for i := range n {
		sp := proxy.ServicePort{
			Service:    types.NamespacedName{Namespace: "bench", Name: fmt.Sprintf("svc-%05d", i)},
			Protocol:   corev1.ProtocolTCP,
			ClusterIPs: []netip.Addr{nth(10, 240, i+1)},
			Port:       80,
			Endpoints:  make([]proxy.Endpoint, e),
		}
		if i%10 == 0 {
			sp.NodePort = uint16(firstNodePort + i/10)
		}
		for k := range e {
			sp.Endpoints[k] = proxy.Endpoint{IP: nth(10, 241, i*e+k+1), Port: 8080}
		}
		if changed && i == n/2 {
			sp.Endpoints[0].IP = netip.AddrFrom4([4]byte{10, 241, 250, 1})
		}
		st.Services[i] = sp
	}
	// Sorted by Key, as proxy.BuildState hands it to a data plane (the zero-padded names
	// make the loop's order that already).
	slices.SortFunc(st.Services, func(a, b proxy.ServicePort) int { return strings.Compare(a.Key(), b.Key()) })
	return st
}

// nth is the i-th address of a.b.0.0/16.
func nth(a, b byte, i int) netip.Addr { return netip.AddrFrom4([4]byte{a, b, byte(i >> 8), byte(i)}) }

// dataplaneSyncs is what one data plane's rounds measured, each slice one entry per round.
type dataplaneSyncs struct {
	first, resync, change, cleanup []time.Duration
	check                          string // what the check after the syncs found
	checkOK                        bool
}

type syncResults struct {
	services, endpoints, nodePorts int
	nft, us                        dataplaneSyncs
	// nftErr is why nftables could not program all the service ports; nftServices is how
	// many its rows are for (all of them, unless nftErr).
	nftErr      error
	nftServices int
}

// dataplane is what both data planes offer: proxy.Dataplane.
type dataplane interface {
	Sync(ctx context.Context, s proxy.State) error
	Cleanup(ctx context.Context) error
}

// rounds syncs full, full again and changed, rounds times, each round starting from nothing
// (Cleanup, timed when there was something to remove), and removes it all at the end.
func rounds(ctx context.Context, name string, dp dataplane, n int, full, changed proxy.State, after func() (string, bool)) (dataplaneSyncs, error) {
	var r dataplaneSyncs
	timed := func(what string, f func() error) (time.Duration, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		start := time.Now()
		err := f()
		d := time.Since(start)
		if err != nil {
			return d, fmt.Errorf("%s: %s: %w", name, what, err)
		}
		return d, nil
	}
	if err := dp.Cleanup(ctx); err != nil {
		return r, err
	}
	for i := range n {
		first, err := timed("first sync", func() error { return dp.Sync(ctx, full) })
		if err != nil {
			return r, err
		}
		resync, err := timed("resync", func() error { return dp.Sync(ctx, full) })
		if err != nil {
			return r, err
		}
		change, err := timed("endpoint change", func() error { return dp.Sync(ctx, changed) })
		if err != nil {
			return r, err
		}
		if i == n-1 {
			r.check, r.checkOK = after()
		}
		cleanup, err := timed("cleanup", func() error { return dp.Cleanup(ctx) })
		if err != nil {
			return r, err
		}
		r.first, r.resync, r.change, r.cleanup = append(r.first, first), append(r.resync, resync),
			append(r.change, change), append(r.cleanup, cleanup)
		progress("%s round %d: first sync %s, resync %s, endpoint change %s, cleanup %s",
			name, i+1, msf(first), msf(resync), msf(change), msf(cleanup))
	}
	return r, nil
}

func measureSync(ctx context.Context, o options) (*syncResults, error) {
	full := syntheticState(o.services, o.endpoints, false)
	changed := syntheticState(o.services, o.endpoints, true)
	res := &syncResults{services: o.services, endpoints: o.endpoints, nodePorts: (o.services + 9) / 10}
	progress("rule programming: %d service ports × %d endpoints, %d NodePorts, %d rounds per data plane",
		o.services, o.endpoints, res.nodePorts, o.syncRounds)

	nft, err := nftables.New(nftables.Config{Table: syncTable, PodCIDR: podCIDR, Logger: quietLog})
	if err != nil {
		return nil, err
	}
	nftRounds := func(n int, full, changed proxy.State) (dataplaneSyncs, error) {
		return rounds(ctx, "nftables", nft, o.syncRounds, full, changed, func() (string, bool) {
			got, err := nftMapLen(syncTable, "service-ips")
			if err != nil {
				return err.Error(), false
			}
			return fmt.Sprintf("`nft -j list map ip %s service-ips` after the syncs: %d entries (want %d)", syncTable, got, n), got == n
		})
	}
	res.nftServices = o.services
	res.nft, err = nftRounds(o.services, full, changed)
	if err != nil && ctx.Err() == nil {
		// Say so, and measure the largest state that can be programmed instead.
		res.nftErr = err
		progress("%v", err)
		var n int
		if n, err = largestSyncable(ctx, nft, o.services, o.endpoints); err != nil {
			return nil, err
		}
		res.nftServices = n
		progress("nftables: the largest state it programs is %d service ports × %d endpoints; measuring that", n, o.endpoints)
		if n > 0 {
			res.nft, err = nftRounds(n, syntheticState(n, o.endpoints, false), syntheticState(n, o.endpoints, true))
		}
	}
	if err != nil {
		return nil, err
	}

	// NodePorts on the veth's host address only, not on every address: the bench should not
	// take ports a cluster on this host may be using.
	us, err := userspace.New(userspace.Config{ClusterIPs: userspace.ClusterIPsOn, Interface: usSyncIface,
		NodeIPs: []netip.Addr{hostIP}, Logger: quietLog})
	if err != nil {
		return nil, err
	}
	defer us.Close()
	res.us, err = rounds(ctx, "userspace", us, o.syncRounds, full, changed, func() (string, bool) {
		n, err := ifaceAddrCount(usSyncIface)
		if err != nil {
			return err.Error(), false
		}
		return fmt.Sprintf("%s after the syncs: %d addresses (want %d)", usSyncIface, n, o.services), n == o.services
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// largestSyncable finds by bisection the most service ports (with e endpoints each) that
// one nftables Sync programs, below failing, which it did not.
func largestSyncable(ctx context.Context, nft *nftables.Proxier, failing, e int) (int, error) {
	lo, hi := 0, failing
	for hi-lo > 1 {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		mid := (lo + hi) / 2
		if err := nft.Sync(ctx, syntheticState(mid, e, false)); err != nil {
			hi = mid
			progress("nftables: %d service ports: %v", mid, err)
		} else {
			lo = mid
			progress("nftables: %d service ports: programmed", mid)
		}
	}
	return lo, nft.Cleanup(ctx)
}

// nftMapLen counts the elements of an nftables map, as `nft -j list map` shows them.
func nftMapLen(table, name string) (int, error) {
	out, err := exec.Command("nft", "-j", "list", "map", "ip", table, name).Output()
	if err != nil {
		return 0, fmt.Errorf("nft -j list map ip %s %s: %w", table, name, err)
	}
	var doc struct {
		Nftables []struct {
			Map *struct {
				Name string            `json:"name"`
				Elem []json.RawMessage `json:"elem"`
			} `json:"map"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return 0, fmt.Errorf("nft -j list map: %w", err)
	}
	for _, o := range doc.Nftables {
		if o.Map != nil && o.Map.Name == name {
			return len(o.Map.Elem), nil
		}
	}
	return 0, fmt.Errorf("nft -j list map ip %s %s: no map in the output", table, name)
}

func ifaceAddrCount(name string) (int, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return 0, fmt.Errorf("interface %s: %w", name, err)
	}
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return 0, fmt.Errorf("addresses of %s: %w", name, err)
	}
	return len(addrs), nil
}
