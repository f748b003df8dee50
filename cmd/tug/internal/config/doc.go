// Package config resolves tug's settings from, in order of precedence, command-line flags,
// TUG_* environment variables, a YAML config file, and the flags' defaults.
//
// Every setting is a flag; its environment variable is TUG_ plus the flag name in upper case
// with "-" replaced by "_" (--data-dir → TUG_DATA_DIR), and its config-file key is the flag name
// itself:
//
//	# tug.yaml
//	data-dir: /var/lib/tug
//	listen: 0.0.0.0:6443
//	etcd-endpoints: [10.0.0.1:2379, 10.0.0.2:2379]
//
// The file is named by --config or TUG_CONFIG.
package config
