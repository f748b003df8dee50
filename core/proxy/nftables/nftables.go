//go:build linux

package nftables

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	nft "github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"github.com/tugboat-io/tug/core/proxy"
	"github.com/tugboat-io/tug/internal/nftexpr"
)

// DefaultTable is the table the proxy owns.
const DefaultTable = "tug-proxy"

// masqMark is the packet mark bit that asks nat-postrouting to masquerade.
const masqMark = 0x4000

// Config configures the nftables data plane.
type Config struct {
	// Table is the ip table the proxy owns (DefaultTable when empty).
	Table string
	// PodCIDR is the cluster's pod range: traffic to a cluster IP from elsewhere (the node,
	// other hosts) is masqueraded, so that the endpoint's reply comes back through the node
	// that translated it. Invalid (unset): nothing is masqueraded for that reason.
	PodCIDR netip.Prefix
	// FullSyncInterval is how often a sync replaces the whole table rather than only what
	// changed, which also removes whatever else changed it (default 5 min).
	FullSyncInterval time.Duration
	Logger           *slog.Logger
}

// Proxier programs Services into nftables.
type Proxier struct {
	cfg Config
	log *slog.Logger
	mu  sync.Mutex
	// programmed is what the table holds per service port, by Key; nil until a full sync
	// succeeded, and again after any failure, so that the next sync is a full one.
	programmed map[string]*portObjects
	lastFull   time.Time
}

var _ proxy.Dataplane = (*Proxier)(nil)

// New checks that nftables can be programmed here (Linux, CAP_NET_ADMIN, nf_tables) and
// returns the data plane.
func New(cfg Config) (*Proxier, error) {
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	if cfg.FullSyncInterval <= 0 {
		cfg.FullSyncInterval = 5 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := Available(); err != nil {
		return nil, err
	}
	p := &Proxier{cfg: cfg, log: cfg.Logger.With("component", "proxy", "mode", "nftables")}
	p.ensureSysctls()
	return p, nil
}

// ensureSysctls turns on what the rules depend on, as kube-proxy and kubelet do: forwarding,
// so DNATed packets reach other hosts' and pods' addresses; and netfilter for bridged
// traffic, so that a pod reaching a Service whose endpoint is on the same bridge has its
// reply un-DNATed instead of arriving from the endpoint's own address. Best effort: a
// failure is logged, and what depends on it is what breaks.
func (p *Proxier) ensureSysctls() {
	for _, name := range []string{"net/ipv4/ip_forward", "net/bridge/bridge-nf-call-iptables"} {
		path := "/proc/sys/" + name
		if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == "1" {
			continue
		}
		if err := os.WriteFile(path, []byte("1"), 0o644); err != nil {
			p.log.Warn("could not set a sysctl the service rules need (for the bridge one: modprobe br_netfilter)",
				"sysctl", strings.ReplaceAll(name, "/", "."), "err", err)
		}
	}
}

// Available says whether this process can program nftables: it lists the tables, which needs
// the kernel's nf_tables and CAP_NET_ADMIN.
func Available() error {
	c, err := nft.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	defer c.CloseLasting()
	if _, err := c.ListTablesOfFamily(nft.TableFamilyIPv4); err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	return nil
}

// batchBuffer is the socket buffer size for a sync's netlink batch. The whole table goes to
// the kernel in one message (a transaction is one batch), and the kernel acknowledges each of
// its tens of thousands of parts: with the default buffers (≈208 KiB) a table of a few dozen
// Services no longer fits, or its acknowledgements overflow. SO_*BUFFORCE (root, which
// nftables needs anyway) lifts the caps; the kernel charges only what a sync uses.
const batchBuffer = 256 << 20

// dial opens a netlink connection for one sync.
func dial() (*nft.Conn, error) {
	c, err := nft.New(nft.WithSockOptions(func(conn *netlink.Conn) error {
		raw, err := conn.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if err := raw.Control(func(fd uintptr) {
			for _, opt := range []int{unix.SO_SNDBUFFORCE, unix.SO_RCVBUFFORCE} {
				if e := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, opt, batchBuffer); e != nil && serr == nil {
					serr = e
				}
			}
		}); err != nil {
			return err
		}
		return serr
	}))
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	return c, nil
}

// Cleanup deletes the proxy's table.
func (p *Proxier) Cleanup(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, err := dial()
	if err != nil {
		return err
	}
	t := &nft.Table{Family: nft.TableFamilyIPv4, Name: p.cfg.Table}
	c.AddTable(t)
	c.DelTable(t)
	p.programmed = nil
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: delete table %s: %w", p.cfg.Table, err)
	}
	return nil
}

// Sync replaces the table with one programming st, in one transaction.
func (p *Proxier) Sync(_ context.Context, st proxy.State) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, err := dial()
	if err != nil {
		return err
	}
	b := &builder{c: c, podCIDR: p.cfg.PodCIDR, objects: map[string]*portObjects{}}
	full := p.programmed == nil || time.Since(p.lastFull) >= p.cfg.FullSyncInterval
	if full {
		err = b.build(p.cfg.Table, st)
	} else {
		err = b.update(p.cfg.Table, st, p.programmed)
	}
	if err == nil {
		err = c.Flush()
	}
	if err != nil {
		p.programmed = nil
		return fmt.Errorf("nftables: program %d service ports: %w", len(st.Services), err)
	}
	p.programmed = b.objects
	if full {
		p.lastFull = time.Now()
	}
	return nil
}

// portObjects is what one service port put in the table: its chains and sets, named after its
// content so that a changed service port gets new ones beside the old, and its elements in
// the table's shared maps and sets.
type portObjects struct {
	fingerprint string
	svc, ext    string   // chains ("" when none)
	eps         []string // endpoint chains
	epsMap      string
	affinity    []string // affinity sets
	elems       []setElem
}

type setElem struct {
	set *nft.Set
	key []byte
}

type builder struct {
	c       *nft.Conn
	t       *nft.Table
	podCIDR netip.Prefix
	// objects records what each service port has in the table after this sync.
	objects map[string]*portObjects

	serviceIPs, serviceNodePorts, noEndpointIPs, noEndpointNodePorts *nft.Set
	markChain                                                        *nft.Chain
	ipElems, nodePortElems, noEpIPElems, noEpNodePortElems           []nft.SetElement
}

var (
	ipProtoPortType = nft.MustConcatSetType(nft.TypeIPAddr, nft.TypeInetProto, nft.TypeInetService)
	protoPortType   = nft.MustConcatSetType(nft.TypeInetProto, nft.TypeInetService)
)

func (b *builder) build(table string, st proxy.State) error {
	c := b.c
	b.t = &nft.Table{Family: nft.TableFamilyIPv4, Name: table}
	// Adding before deleting makes the delete succeed whether or not the table existed; the
	// kernel applies the batch as one transaction.
	c.AddTable(b.t)
	c.DelTable(b.t)
	c.AddTable(b.t)

	b.sharedSets()
	for _, set := range []*nft.Set{b.serviceIPs, b.serviceNodePorts, b.noEndpointIPs, b.noEndpointNodePorts} {
		if err := c.AddSet(set, nil); err != nil {
			return fmt.Errorf("nftables: set %s: %w", set.Name, err)
		}
	}

	b.markChain = c.AddChain(&nft.Chain{Name: "mark-for-masquerade", Table: b.t})
	c.AddRule(&nft.Rule{Table: b.t, Chain: b.markChain, Exprs: setMarkBit()})
	masq := c.AddChain(&nft.Chain{Name: "masquerading", Table: b.t})
	c.AddRule(&nft.Rule{Table: b.t, Chain: masq, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: u32(masqMark), Xor: u32(0)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: u32(0)},
		&expr.Verdict{Kind: expr.VerdictReturn},
	}})
	c.AddRule(&nft.Rule{Table: b.t, Chain: masq, Exprs: []expr.Any{
		// Clear the bit, so a packet that is forwarded again is not masqueraded twice.
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: u32(^uint32(masqMark)), Xor: u32(0)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
		&expr.Masq{FullyRandom: true},
	}})

	services := c.AddChain(&nft.Chain{Name: "services", Table: b.t})
	c.AddRule(&nft.Rule{Table: b.t, Chain: services, Exprs: nftexpr.Concat(loadDaddrProtoPort(),
		[]expr.Any{&expr.Lookup{SourceRegister: 1, IsDestRegSet: true, SetName: b.serviceIPs.Name, SetID: b.serviceIPs.ID}})})
	c.AddRule(&nft.Rule{Table: b.t, Chain: services, Exprs: nftexpr.Concat(localDaddr(), loadProtoPort(),
		[]expr.Any{&expr.Lookup{SourceRegister: 9, IsDestRegSet: true, SetName: b.serviceNodePorts.Name, SetID: b.serviceNodePorts.ID}})})

	endpointsCheck := c.AddChain(&nft.Chain{Name: "endpoints-check", Table: b.t})
	reject := []expr.Any{&expr.Counter{}, &expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 3 /* port unreachable */}}
	c.AddRule(&nft.Rule{Table: b.t, Chain: endpointsCheck, Exprs: nftexpr.Concat(loadDaddrProtoPort(),
		[]expr.Any{&expr.Lookup{SourceRegister: 1, SetName: b.noEndpointIPs.Name, SetID: b.noEndpointIPs.ID}}, reject)})
	c.AddRule(&nft.Rule{Table: b.t, Chain: endpointsCheck, Exprs: nftexpr.Concat(localDaddr(), loadProtoPort(),
		[]expr.Any{&expr.Lookup{SourceRegister: 9, SetName: b.noEndpointNodePorts.Name, SetID: b.noEndpointNodePorts.ID}}, reject)})

	for _, h := range []struct {
		name string
		typ  nft.ChainType
		hook *nft.ChainHook
		prio *nft.ChainPriority
		to   *nft.Chain
	}{
		{"filter-input", nft.ChainTypeFilter, nft.ChainHookInput, nft.ChainPriorityRef(-110), endpointsCheck},
		{"filter-forward", nft.ChainTypeFilter, nft.ChainHookForward, nft.ChainPriorityRef(-110), endpointsCheck},
		{"filter-output", nft.ChainTypeFilter, nft.ChainHookOutput, nft.ChainPriorityRef(-110), endpointsCheck},
		{"nat-prerouting", nft.ChainTypeNAT, nft.ChainHookPrerouting, nft.ChainPriorityNATDest, services},
		{"nat-output", nft.ChainTypeNAT, nft.ChainHookOutput, nft.ChainPriorityNATDest, services},
		{"nat-postrouting", nft.ChainTypeNAT, nft.ChainHookPostrouting, nft.ChainPriorityNATSource, masq},
	} {
		ch := c.AddChain(&nft.Chain{Name: h.name, Table: b.t, Type: h.typ, Hooknum: h.hook, Priority: h.prio})
		c.AddRule(&nft.Rule{Table: b.t, Chain: ch, Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: h.to.Name}}})
	}

	for i := range st.Services {
		if err := b.servicePort(&st.Services[i], fingerprint(&st.Services[i])); err != nil {
			return err
		}
	}
	return b.addElements()
}

// update changes only the service ports whose content differs from what the table holds
// (before: what the last sync recorded): a changed or new one gets its chains and sets and
// its map entries point at them; the old ones' entries go, then their chains and sets. One
// transaction, as a full build is.
func (b *builder) update(table string, st proxy.State, before map[string]*portObjects) error {
	b.t = &nft.Table{Family: nft.TableFamilyIPv4, Name: table}
	b.sharedSets()
	var stale []*portObjects
	for i := range st.Services {
		sp := &st.Services[i]
		old := before[sp.Key()]
		fp := fingerprint(sp)
		if old != nil && old.fingerprint == fp {
			b.objects[sp.Key()] = old
			continue
		}
		if err := b.servicePort(sp, fp); err != nil {
			return err
		}
		if old != nil {
			stale = append(stale, old)
		}
	}
	for key, old := range before {
		if _, ok := b.objects[key]; !ok { // gone from the state (a changed one is already stale)
			stale = append(stale, old)
		}
	}
	// Entries first (a key may be deleted and added again, pointing elsewhere), then what
	// only the old entries referred to.
	for _, old := range stale {
		for _, e := range old.elems {
			if err := b.c.SetDeleteElements(e.set, []nft.SetElement{{Key: e.key}}); err != nil {
				return fmt.Errorf("nftables: set %s: %w", e.set.Name, err)
			}
		}
	}
	if err := b.addElements(); err != nil {
		return err
	}
	for _, old := range stale {
		b.remove(old)
	}
	return nil
}

// remove deletes a service port's chains and sets, emptying chains first: a chain goes only
// once nothing refers to it.
func (b *builder) remove(o *portObjects) {
	chain := func(name string) *nft.Chain { return &nft.Chain{Name: name, Table: b.t} }
	set := func(name string) *nft.Set { return &nft.Set{Name: name, Table: b.t} }
	if o.svc == "" {
		return // no endpoints: only entries
	}
	b.c.FlushChain(chain(o.svc))
	if o.ext != "" {
		b.c.FlushChain(chain(o.ext))
	}
	for _, ep := range o.eps {
		b.c.FlushChain(chain(ep))
	}
	b.c.DelSet(set(o.epsMap))
	for _, ep := range o.eps {
		b.c.DelChain(chain(ep))
	}
	for _, a := range o.affinity {
		b.c.DelSet(set(a))
	}
	if o.ext != "" {
		b.c.DelChain(chain(o.ext))
	}
	b.c.DelChain(chain(o.svc))
}

// sharedSets describes the table's maps and sets every service port has entries in.
func (b *builder) sharedSets() {
	set := func(name string, key nft.SetDatatype, vmap bool) *nft.Set {
		s := &nft.Set{Table: b.t, Name: name, KeyType: key, Concatenation: true}
		if vmap {
			s.IsMap, s.DataType = true, nft.TypeVerdict
		}
		return s
	}
	b.serviceIPs = set("service-ips", ipProtoPortType, true)
	b.serviceNodePorts = set("service-nodeports", protoPortType, true)
	b.noEndpointIPs = set("no-endpoint-services", ipProtoPortType, false)
	b.noEndpointNodePorts = set("no-endpoint-nodeports", protoPortType, false)
}

// addElements adds the entries the service ports of this sync collected.
func (b *builder) addElements() error {
	for _, s := range []struct {
		set   *nft.Set
		elems []nft.SetElement
	}{{b.serviceIPs, b.ipElems}, {b.serviceNodePorts, b.nodePortElems}, {b.noEndpointIPs, b.noEpIPElems}, {b.noEndpointNodePorts, b.noEpNodePortElems}} {
		// In slices: one message's attributes may not exceed 64 KiB.
		for elems := range slices.Chunk(s.elems, 256) {
			if err := b.c.SetAddElements(s.set, elems); err != nil {
				return fmt.Errorf("nftables: set %s: %w", s.set.Name, err)
			}
		}
	}
	return nil
}

// fingerprint is what a service port's chains depend on: equal fingerprints, equal chains.
func fingerprint(sp *proxy.ServicePort) string {
	return fmt.Sprintf("%s|%v|%d|%d|%d|%v", sp.Protocol, sp.ClusterIPs, sp.Port, sp.NodePort, sp.Affinity, sp.Endpoints)
}

// servicePort adds one service port's chains and its map entries.
func (b *builder) servicePort(sp *proxy.ServicePort, fp string) error {
	proto, ok := protoNumber(sp.Protocol)
	if !ok {
		return nil // SCTP and the like: not programmed
	}
	c := b.c
	rec := &portObjects{fingerprint: fp}
	b.objects[sp.Key()] = rec
	if len(sp.Endpoints) == 0 {
		for _, ip := range sp.ClusterIPs {
			key := ipProtoPortKey(ip, proto, sp.Port)
			b.noEpIPElems = append(b.noEpIPElems, nft.SetElement{Key: key})
			rec.elems = append(rec.elems, setElem{b.noEndpointIPs, key})
		}
		if sp.NodePort != 0 {
			key := protoPortKey(proto, sp.NodePort)
			b.noEpNodePortElems = append(b.noEpNodePortElems, nft.SetElement{Key: key})
			rec.elems = append(rec.elems, setElem{b.noEndpointNodePorts, key})
		}
		return nil
	}
	id := chainID(sp.Key(), fp)
	svc := c.AddChain(&nft.Chain{Name: "svc-" + id, Table: b.t})
	rec.svc, rec.epsMap = svc.Name, "eps-"+id
	if b.podCIDR.IsValid() {
		c.AddRule(&nft.Rule{Table: b.t, Chain: svc, Exprs: nftexpr.Concat(saddrIn(b.podCIDR, expr.CmpOpNeq), foreignSaddr(), jumpMark())})
	}
	// A named map, not an anonymous one as nft writes it: the kernel binds each anonymous set
	// by scanning the whole transaction, which made a sync grow as the square of the Services.
	vmap := &nft.Set{Table: b.t, Name: rec.epsMap, Constant: true, IsMap: true, KeyType: nft.TypeInteger, DataType: nft.TypeVerdict}
	var elems []nft.SetElement
	for i, ep := range sp.Endpoints {
		epID := chainID(sp.Key()+"@"+ep.String(), fp)
		epName := "ep-" + epID
		epChain := c.AddChain(&nft.Chain{Name: epName, Table: b.t})
		rec.eps = append(rec.eps, epName)
		c.AddRule(&nft.Rule{Table: b.t, Chain: epChain, Exprs: nftexpr.Concat(saddrIs(ep.IP), jumpMark())})
		if sp.Affinity > 0 {
			aff := &nft.Set{Table: b.t, Name: "aff-" + epID, KeyType: nft.TypeIPAddr,
				Dynamic: true, HasTimeout: true, Timeout: sp.Affinity}
			rec.affinity = append(rec.affinity, aff.Name)
			if err := c.AddSet(aff, nil); err != nil {
				return fmt.Errorf("nftables: affinity set of %s: %w", sp.Key(), err)
			}
			c.AddRule(&nft.Rule{Table: b.t, Chain: svc, Exprs: []expr.Any{
				loadSaddr(),
				&expr.Lookup{SourceRegister: 1, SetName: aff.Name, SetID: aff.ID},
				&expr.Verdict{Kind: expr.VerdictGoto, Chain: epName},
			}})
			c.AddRule(&nft.Rule{Table: b.t, Chain: epChain, Exprs: []expr.Any{
				loadSaddr(),
				&expr.Dynset{SrcRegKey: 1, SetName: aff.Name, SetID: aff.ID, Operation: uint32(unix.NFT_DYNSET_OP_UPDATE), Timeout: sp.Affinity},
			}})
		}
		addr := ep.IP.As4()
		c.AddRule(&nft.Rule{Table: b.t, Chain: epChain, Exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
			&expr.Immediate{Register: 1, Data: addr[:]},
			&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(ep.Port)},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
		}})
		elems = append(elems, nft.SetElement{Key: binaryutil.NativeEndian.PutUint32(uint32(i)),
			VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: epName}})
	}
	if err := c.AddSet(vmap, elems); err != nil {
		return fmt.Errorf("nftables: endpoints of %s: %w", sp.Key(), err)
	}
	c.AddRule(&nft.Rule{Table: b.t, Chain: svc, Exprs: []expr.Any{
		&expr.Numgen{Register: 1, Modulus: uint32(len(sp.Endpoints)), Type: unix.NFT_NG_RANDOM},
		&expr.Lookup{SourceRegister: 1, IsDestRegSet: true, SetName: vmap.Name, SetID: vmap.ID},
	}})
	for _, ip := range sp.ClusterIPs {
		key := ipProtoPortKey(ip, proto, sp.Port)
		b.ipElems = append(b.ipElems, nft.SetElement{Key: key, VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: svc.Name}})
		rec.elems = append(rec.elems, setElem{b.serviceIPs, key})
	}
	if sp.NodePort != 0 {
		ext := c.AddChain(&nft.Chain{Name: "ext-" + id, Table: b.t})
		rec.ext = ext.Name
		c.AddRule(&nft.Rule{Table: b.t, Chain: ext, Exprs: nftexpr.Concat(foreignSaddr(), jumpMark())})
		c.AddRule(&nft.Rule{Table: b.t, Chain: ext, Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictGoto, Chain: svc.Name}}})
		key := protoPortKey(proto, sp.NodePort)
		b.nodePortElems = append(b.nodePortElems, nft.SetElement{Key: key, VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: ext.Name}})
		rec.elems = append(rec.elems, setElem{b.serviceNodePorts, key})
	}
	return nil
}

// chainID names a chain after what it serves, readable in `nft list table`, with a hash
// prefix of the key and the content it is made from: names stay unique after the readable
// part is cut to the kernel's limit, and a service port whose content changed gets new ones.
func chainID(key, content string) string {
	sum := sha256.Sum256([]byte(key + "\x00" + content))
	h := base32.StdEncoding.EncodeToString(sum[:])[:8]
	readable := strings.ToLower(strings.NewReplacer(":", "/", "@", "__").Replace(key))
	if len(readable) > 180 {
		readable = readable[:180]
	}
	return h + "-" + readable
}

func protoNumber(p corev1.Protocol) (byte, bool) {
	switch p {
	case corev1.ProtocolTCP, "":
		return unix.IPPROTO_TCP, true
	case corev1.ProtocolUDP:
		return unix.IPPROTO_UDP, true
	}
	return 0, false
}

// Keys of concatenations: each field takes a whole 32-bit register, zero-padded.
func ipProtoPortKey(ip netip.Addr, proto byte, port uint16) []byte {
	a := ip.As4()
	return append(a[:], append([]byte{proto, 0, 0, 0}, padPort(port)...)...)
}

func protoPortKey(proto byte, port uint16) []byte {
	return append([]byte{proto, 0, 0, 0}, padPort(port)...)
}

func padPort(port uint16) []byte { return append(binaryutil.BigEndian.PutUint16(port), 0, 0) }

// loadDaddrProtoPort puts ip daddr . meta l4proto . th dport in registers 1 (= 32-bit
// register 8), 9 and 10, as nft does for a concatenated lookup.
func loadDaddrProtoPort() []expr.Any {
	return append([]expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4}}, loadProtoPort()...)
}

func loadProtoPort() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 9},
		&expr.Payload{DestRegister: 10, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
	}
}

func loadSaddr() expr.Any {
	return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}
}

// localDaddr matches packets to an address of this host (fib daddr type local), leaving out
// 127.0.0.0/8, which would need route_localnet.
func localDaddr() []expr.Any {
	return nftexpr.Concat([]expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}, daddrIn(netip.MustParsePrefix("127.0.0.0/8"), expr.CmpOpNeq))
}

// foreignSaddr matches packets whose source is not an address of this host. The host's own
// connections need no masquerade: the endpoint's reply comes back to the host's address
// whatever the route. Masquerading them (fully random) reused source ports the endpoint still
// held in TIME_WAIT, which it refused (PAWS), stalling new connections from the node for a
// second each at high connection rates.
func foreignSaddr() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagSADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

func saddrIs(ip netip.Addr) []expr.Any {
	a := ip.As4()
	return []expr.Any{loadSaddr(), &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a[:]}}
}

func saddrIn(p netip.Prefix, op expr.CmpOp) []expr.Any {
	return nftexpr.InPrefix(nftexpr.SaddrOffset, p, op)
}
func daddrIn(p netip.Prefix, op expr.CmpOp) []expr.Any {
	return nftexpr.InPrefix(nftexpr.DaddrOffset, p, op)
}

func jumpMark() []expr.Any {
	return []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: "mark-for-masquerade"}}
}

// setMarkBit is meta mark set meta mark | masqMark, which nft writes as (mark & ~bit) ^ bit.
func setMarkBit() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: u32(^uint32(masqMark)), Xor: u32(masqMark)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
	}
}

func u32(v uint32) []byte { return binaryutil.NativeEndian.PutUint32(v) }
