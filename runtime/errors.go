package runtime

import (
	"errors"
	"fmt"

	"github.com/tugboat-io/tug/hostabi"
)

// Sentinel errors. Errors returned by this package wrap them; test with errors.Is.
var (
	// ErrInvalidModule: the wasm is not a tug plugin this host can load (bad binary, missing
	// or mistyped exports, unknown imports, an ABI version the host does not serve, …).
	ErrInvalidModule = errors.New("invalid plugin module")
	// ErrInvalidConfig: the plugin refused its configuration (INVALID_CONFIG from
	// tug_configure), or has no tug_configure and was given a configuration other than {}.
	ErrInvalidConfig = errors.New("configuration refused")
	// ErrTrap: the guest trapped (unreachable, out-of-bounds access, a Go panic that exits the
	// instance, a host function it misused) or exited. The instance was discarded.
	ErrTrap = errors.New("plugin trapped")
	// ErrDeadline: the call ran past the plugin's deadline and was interrupted. The instance
	// was discarded.
	ErrDeadline = errors.New("plugin deadline exceeded")
	// ErrMemoryLimit: the guest died after the host refused to grow its memory past the
	// plugin's cap, or its tug_alloc could not allocate the input. The instance was discarded.
	ErrMemoryLimit = errors.New("plugin memory limit exceeded")
	// ErrResultTooLarge: the guest passed set_result more bytes than the result limit. The
	// instance was discarded.
	ErrResultTooLarge = errors.New("plugin result too large")
	// ErrBadStatus: the export returned a value that is not a status code; it counts as ERROR
	// and the instance was discarded.
	ErrBadStatus = errors.New("plugin returned an invalid status")
	// ErrClosed: the Runtime, Module or Slot is closed.
	ErrClosed = errors.New("closed")
	// ErrNotLoaded: a Slot has no active version yet.
	ErrNotLoaded = errors.New("no plugin version is active")
)

// PluginError is a failed call (or a failed instantiation) of a plugin.
//
// Status is what the caller should act on: the guest's own status when it returned a valid
// non-zero one (Cause is then nil and Reason is the guest's reason), otherwise
// hostabi.StatusError with a Reason the host wrote and a Cause wrapping one of the sentinel
// errors (ErrTrap, ErrDeadline, ErrMemoryLimit, ErrResultTooLarge, ErrBadStatus, …) and, where
// there is one, wazero's error.
type PluginError struct {
	Plugin  string // the plugin's name
	Version string // the module's sha256 digest, hex
	Export  string // the export being called
	Status  hostabi.Status
	Reason  string
	Cause   error
}

func (e *PluginError) Error() string {
	head := fmt.Sprintf("plugin %q (%s) %s", e.Plugin, shortDigest(e.Version), e.Export)
	if e.Cause == nil {
		if e.Reason == "" {
			return fmt.Sprintf("%s returned %s", head, e.Status)
		}
		return fmt.Sprintf("%s: %s: %s", head, e.Status, e.Reason)
	}
	return head + ": " + e.Reason
}

// Unwrap returns the cause, so that errors.Is finds the sentinel errors.
func (e *PluginError) Unwrap() error { return e.Cause }

// shortDigest renders a hex sha256 digest as "sha256:" and its first 12 digits.
func shortDigest(hex string) string {
	if len(hex) > 12 {
		hex = hex[:12]
	}
	return "sha256:" + hex
}

const (
	kib = 1 << 10
	mib = 1 << 20
)

// size renders a byte count the way limits are written: "16 MiB", "512 KiB", "1000 bytes".
func size(n uint64) string {
	switch {
	case n >= mib && n%mib == 0:
		return fmt.Sprintf("%d MiB", n/mib)
	case n >= kib && n%kib == 0:
		return fmt.Sprintf("%d KiB", n/kib)
	}
	return fmt.Sprintf("%d bytes", n)
}
