// Package host holds the host's imports (ABI.md §5) behind build tags: in a wasip1 build
// they are the tug:host/v1 imports; natively they are stubs, so plugin code runs under plain
// go test, with log messages going to a sink the fake host (sdktest) sets, or to stderr.
package host

import "fmt"

// LevelName names a log level as ABI.md §5 does.
func LevelName(level int32) string {
	switch level {
	case 0:
		return "debug"
	case 1:
		return "info"
	case 2:
		return "warn"
	case 3:
		return "error"
	}
	return fmt.Sprintf("level(%d)", level)
}
