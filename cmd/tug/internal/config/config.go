package config

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cast"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"sigs.k8s.io/yaml"
)

// EnvPrefix is the prefix of tug's environment variables.
const EnvPrefix = "TUG"

// FileFlag is the flag (and config key) naming the config file.
const FileFlag = "config"

// Settings are the resolved values of one command's flags.
type Settings struct {
	v *viper.Viper
	// File is the config file that was read; empty if none.
	File string
	// UnknownKeys are keys in the config file that name no flag of this command. They are not
	// an error, so one file can serve several subcommands, but a typo shows up here.
	UnknownKeys []string
}

// EnvVar is the environment variable that sets flag name.
func EnvVar(name string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Load resolves the flags in fs (parsed already) against the environment and the config file
// named by the FileFlag flag or its environment variable.
func Load(fs *pflag.FlagSet) (*Settings, error) {
	v := viper.New()
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	if err := v.BindPFlags(fs); err != nil {
		return nil, fmt.Errorf("bind flags: %w", err)
	}
	s := &Settings{v: v}

	file := v.GetString(FileFlag)
	if file == "" {
		return s, nil
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}
	var keys map[string]any
	if err := yaml.Unmarshal(raw, &keys); err != nil {
		return nil, fmt.Errorf("parse config file %s: %w", file, err)
	}
	for k := range keys {
		if k == FileFlag {
			return nil, fmt.Errorf("config file %s: key %q cannot be set in a config file", file, k)
		}
		if fs.Lookup(k) == nil {
			s.UnknownKeys = append(s.UnknownKeys, k)
		}
	}
	sort.Strings(s.UnknownKeys)
	v.SetConfigFile(file)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("parse config file %s: %w", file, err)
	}
	s.File = file
	return s, nil
}

// String returns the resolved value of the string flag name.
func (s *Settings) String(name string) string { return s.v.GetString(name) }

// Bool returns the resolved value of a boolean flag; a value that is not a boolean (from the
// environment or the file) is an error naming where it came from.
func (s *Settings) Bool(name string) (bool, error) {
	b, err := cast.ToBoolE(s.v.Get(name))
	if err != nil {
		return false, fmt.Errorf("%s: want true or false, got %v", s.describe(name), s.v.Get(name))
	}
	return b, nil
}

// Int64 returns the resolved value of an integer flag; a value that is not an integer (from the
// environment or the file) is an error naming where it came from.
func (s *Settings) Int64(name string) (int64, error) {
	n, err := cast.ToInt64E(s.v.Get(name))
	if err != nil {
		return 0, fmt.Errorf("%s: want an integer, got %v", s.describe(name), s.v.Get(name))
	}
	return n, nil
}

// Float64 returns the resolved value of a number flag; a value that is not a number is an
// error naming where it came from.
func (s *Settings) Float64(name string) (float64, error) {
	f, err := cast.ToFloat64E(s.v.Get(name))
	if err != nil {
		return 0, fmt.Errorf("%s: want a number, got %v", s.describe(name), s.v.Get(name))
	}
	return f, nil
}

// Duration returns the resolved value of the duration flag name ("30s", "2m").
func (s *Settings) Duration(name string) (time.Duration, error) {
	switch val := s.v.Get(name).(type) {
	case time.Duration:
		return val, nil
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(val))
		if err != nil {
			return 0, fmt.Errorf("%s: %w", s.describe(name), err)
		}
		return d, nil
	default:
		return 0, fmt.Errorf("%s: want a duration with a unit such as 30s or 2m, got %v", s.describe(name), val)
	}
}

// List returns the resolved value of a list flag: a comma-separated string from a flag or the
// environment, or a comma-separated string or a YAML list in the config file. Empty elements
// are dropped and the rest trimmed.
func (s *Settings) List(name string) ([]string, error) {
	var parts []string
	switch val := s.v.Get(name).(type) {
	case nil:
	case string:
		parts = strings.Split(val, ",")
	case []string:
		parts = val
	case []any:
		for _, e := range val {
			str, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%s: list element %v is not a string", s.describe(name), e)
			}
			parts = append(parts, str)
		}
	default:
		return nil, fmt.Errorf("%s: want a comma-separated string or a list, got %T", s.describe(name), val)
	}
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

// describe names where a setting can come from, for error messages.
func (s *Settings) describe(name string) string {
	return fmt.Sprintf("--%s (%s)", name, EnvVar(name))
}
