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
	"strings"
	"sync"

	nft "github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
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
	Logger  *slog.Logger
}

// Proxier programs Services into nftables.
type Proxier struct {
	cfg Config
	log *slog.Logger
	mu  sync.Mutex
}

var _ proxy.Dataplane = (*Proxier)(nil)

// New checks that nftables can be programmed here (Linux, CAP_NET_ADMIN, nf_tables) and
// returns the data plane.
func New(cfg Config) (*Proxier, error) {
	if cfg.Table == "" {
		cfg.Table = DefaultTable
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

// Cleanup deletes the proxy's table.
func (p *Proxier) Cleanup(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, err := nft.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := &nft.Table{Family: nft.TableFamilyIPv4, Name: p.cfg.Table}
	c.AddTable(t)
	c.DelTable(t)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: delete table %s: %w", p.cfg.Table, err)
	}
	return nil
}

// Sync replaces the table with one programming st, in one transaction.
func (p *Proxier) Sync(_ context.Context, st proxy.State) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, err := nft.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	b := &builder{c: c, podCIDR: p.cfg.PodCIDR}
	if err := b.build(p.cfg.Table, st); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: program %d service ports: %w", len(st.Services), err)
	}
	return nil
}

type builder struct {
	c       *nft.Conn
	t       *nft.Table
	podCIDR netip.Prefix

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

	var err error
	if b.serviceIPs, err = b.set("service-ips", ipProtoPortType, true); err != nil {
		return err
	}
	if b.serviceNodePorts, err = b.set("service-nodeports", protoPortType, true); err != nil {
		return err
	}
	if b.noEndpointIPs, err = b.set("no-endpoint-services", ipProtoPortType, false); err != nil {
		return err
	}
	if b.noEndpointNodePorts, err = b.set("no-endpoint-nodeports", protoPortType, false); err != nil {
		return err
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
		if err := b.servicePort(&st.Services[i]); err != nil {
			return err
		}
	}
	for _, s := range []struct {
		set   *nft.Set
		elems []nft.SetElement
	}{{b.serviceIPs, b.ipElems}, {b.serviceNodePorts, b.nodePortElems}, {b.noEndpointIPs, b.noEpIPElems}, {b.noEndpointNodePorts, b.noEpNodePortElems}} {
		if len(s.elems) > 0 {
			if err := c.SetAddElements(s.set, s.elems); err != nil {
				return fmt.Errorf("nftables: set %s: %w", s.set.Name, err)
			}
		}
	}
	return nil
}

func (b *builder) set(name string, key nft.SetDatatype, vmap bool) (*nft.Set, error) {
	s := &nft.Set{Table: b.t, Name: name, KeyType: key, Concatenation: true}
	if vmap {
		s.IsMap, s.DataType = true, nft.TypeVerdict
	}
	if err := b.c.AddSet(s, nil); err != nil {
		return nil, fmt.Errorf("nftables: set %s: %w", name, err)
	}
	return s, nil
}

// servicePort adds one service port's chains and its map entries.
func (b *builder) servicePort(sp *proxy.ServicePort) error {
	proto, ok := protoNumber(sp.Protocol)
	if !ok {
		return nil // SCTP and the like: not programmed
	}
	c := b.c
	if len(sp.Endpoints) == 0 {
		for _, ip := range sp.ClusterIPs {
			b.noEpIPElems = append(b.noEpIPElems, nft.SetElement{Key: ipProtoPortKey(ip, proto, sp.Port)})
		}
		if sp.NodePort != 0 {
			b.noEpNodePortElems = append(b.noEpNodePortElems, nft.SetElement{Key: protoPortKey(proto, sp.NodePort)})
		}
		return nil
	}
	id := chainID(sp.Key())
	svc := c.AddChain(&nft.Chain{Name: "svc-" + id, Table: b.t})
	if b.podCIDR.IsValid() {
		c.AddRule(&nft.Rule{Table: b.t, Chain: svc, Exprs: nftexpr.Concat(saddrIn(b.podCIDR, expr.CmpOpNeq), jumpMark())})
	}
	vmap := &nft.Set{Table: b.t, Anonymous: true, Constant: true, IsMap: true, KeyType: nft.TypeInteger, DataType: nft.TypeVerdict}
	var elems []nft.SetElement
	for i, ep := range sp.Endpoints {
		epName := "ep-" + chainID(sp.Key()+"@"+ep.String())
		epChain := c.AddChain(&nft.Chain{Name: epName, Table: b.t})
		c.AddRule(&nft.Rule{Table: b.t, Chain: epChain, Exprs: nftexpr.Concat(saddrIs(ep.IP), jumpMark())})
		if sp.Affinity > 0 {
			aff := &nft.Set{Table: b.t, Name: "aff-" + chainID(sp.Key()+"@"+ep.String()), KeyType: nft.TypeIPAddr,
				Dynamic: true, HasTimeout: true, Timeout: sp.Affinity}
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
		b.ipElems = append(b.ipElems, nft.SetElement{Key: ipProtoPortKey(ip, proto, sp.Port),
			VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: svc.Name}})
	}
	if sp.NodePort != 0 {
		ext := c.AddChain(&nft.Chain{Name: "ext-" + id, Table: b.t})
		c.AddRule(&nft.Rule{Table: b.t, Chain: ext, Exprs: jumpMark()})
		c.AddRule(&nft.Rule{Table: b.t, Chain: ext, Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictGoto, Chain: svc.Name}}})
		b.nodePortElems = append(b.nodePortElems, nft.SetElement{Key: protoPortKey(proto, sp.NodePort),
			VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: ext.Name}})
	}
	return nil
}

// chainID names a chain after what it serves, readable in `nft list table`, with a hash
// prefix that keeps names unique after the readable part is cut to the kernel's limit.
func chainID(key string) string {
	sum := sha256.Sum256([]byte(key))
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
