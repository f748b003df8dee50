// Command tug is the tug binary. Its subcommands wire components together and do nothing else:
//
//	tug up        everything on one machine: embedded etcd and the API server
//	tug server    the API server against an external etcd cluster (run several for HA)
//	tug etcd      one embedded etcd member, to build an HA store without installing etcd
//	tug version   the build and the Kubernetes API version served
//
// Settings come from flags, TUG_* environment variables and a YAML file, in that order of
// precedence (see cmd/tug/internal/config). Logs go to stderr; stdout carries only what a user
// or a script needs (the kubeconfig path, the version).
package main
