//go:build !linux

package podnet

import (
	"errors"
	"net/netip"
)

var errNotLinux = errors.New("pod networks need Linux network namespaces")

func makeNetNS(string) error   { return errNotLinux }
func removeNetNS(string) error { return nil }
func netNSAlive(string) bool   { return false }

func ensureMasquerade(string, netip.Prefix) error { return errNotLinux }
func removeMasquerade(string) error               { return nil }
