//go:build linux

// Package nftexpr holds the nftables expressions that more than one of tug's rule sets builds
// (the pod network's masquerade, the service proxy), spelled as nft itself compiles them.
package nftexpr

import (
	"net"
	"net/netip"

	"github.com/google/nftables/expr"
)

// Network-header offsets of the IPv4 source and destination addresses.
const (
	SaddrOffset = 12
	DaddrOffset = 16
)

// InPrefix compares the IPv4 address at offset in the network header with p, masked to its
// length, using op (equal: inside p; not equal: outside), in register 1.
func InPrefix(offset uint32, p netip.Prefix, op expr.CmpOp) []expr.Any {
	p = p.Masked()
	mask := []byte(net.CIDRMask(p.Bits(), 32))
	addr := p.Addr().As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: op, Register: 1, Data: addr[:]},
	}
}

// Concat joins expression lists into one rule's expressions.
func Concat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
