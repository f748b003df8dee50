//go:build !linux

package podnet

import "errors"

var errNotLinux = errors.New("pod networks need Linux network namespaces")

func makeNetNS(string) error   { return errNotLinux }
func removeNetNS(string) error { return nil }
func netNSAlive(string) bool   { return false }
