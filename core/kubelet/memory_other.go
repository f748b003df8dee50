//go:build !linux

package kubelet

import "errors"

func mountMemory(string) error { return errors.ErrUnsupported }

// UnmountMemory does nothing: only Linux nodes mount a tmpfs for memory-backed volumes.
func UnmountMemory(string) error { return nil }
