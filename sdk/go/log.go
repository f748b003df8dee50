package tug

import (
	"fmt"

	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/sdk/go/internal/host"
)

// Level is a log level of the host's log.
type Level int32

// Log levels.
const (
	LevelDebug Level = Level(hostabi.LogDebug)
	LevelInfo  Level = Level(hostabi.LogInfo)
	LevelWarn  Level = Level(hostabi.LogWarn)
	LevelError Level = Level(hostabi.LogError)
)

func (l Level) String() string { return host.LevelName(int32(l)) }

// Log writes a message to the host's log, tagged there with the plugin's name and version.
// Natively it goes to the test's log when sdktest drives the plugin, and to stderr
// otherwise.
func Log(level Level, msg string) { host.Log(int32(level), msg) }

// Logf is Log with a formatted message.
func Logf(level Level, format string, args ...any) { Log(level, fmt.Sprintf(format, args...)) }
