package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/tugboat-io/tug/core/store"
)

const defaultEtcdConnectTimeout = time.Minute

func newEtcdCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "etcd",
		Short: "Run one embedded etcd member (build an HA store without installing etcd)",
		Long: `Run one etcd member, embedded in tug, with its data in <data-dir>/etcd. Three of them make
a highly available store for "tug server --etcd-endpoints ...". Runs until SIGINT or SIGTERM.

--initial-cluster and --initial-cluster-state are read only when the data dir is new; a member
restarted on its data dir rejoins its cluster by itself. To add a member to a running cluster,
add it with etcdctl member add, then start it with --initial-cluster-state existing.`,
		Example: `  tug etcd --name e1 --data-dir /tmp/e1 --client-listen 127.0.0.1:2379 --peer-listen 127.0.0.1:2380 \
    --initial-cluster e1=http://127.0.0.1:2380,e2=http://127.0.0.1:2480,e3=http://127.0.0.1:2580`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runEtcd(cmd.Context()) },
	}
	f := cmd.Flags()
	addDataDirFlag(f)
	host, _ := os.Hostname()
	if host == "" {
		host = store.DefaultEmbedName
	}
	host, _, _ = strings.Cut(host, ".")
	f.String("name", host, "member name; must match this member's entry in --initial-cluster")
	f.String("client-listen", store.DefaultEmbedClientListen, "HOST:PORT to serve clients on")
	f.String("peer-listen", store.DefaultEmbedPeerListen, "HOST:PORT to serve peers on")
	f.String("advertise-client", "", "HOST:PORT clients reach this member at (default --client-listen; required if that is 0.0.0.0)")
	f.String("advertise-peer", "", "HOST:PORT peers reach this member at (default --peer-listen; required if that is 0.0.0.0)")
	f.String("initial-cluster", "", "NAME=http://HOST:PORT,... of all founding members' peer URLs (default: a one-member cluster)")
	f.String("initial-cluster-state", "new", `"new" to found a cluster, "existing" to join a running one`)
	f.String("initial-cluster-token", store.DefaultEmbedClusterToken, "token shared by a cluster's members, distinct per cluster")
	f.Duration("ready-timeout", store.DefaultEmbedReadyTimeout, "how long to wait for the member to join its cluster")
	return cmd
}

func (a *app) runEtcd(ctx context.Context) error {
	s := a.settings
	readyTimeout, err := s.Duration("ready-timeout")
	if err != nil {
		return err
	}
	dir, lock, err := a.openDataDir()
	if err != nil {
		return err
	}
	defer a.releaseLock(lock)

	log := a.logger("tug")
	name := s.String("name")
	log.Info("starting etcd member", "name", name, "data-dir", filepath.Join(dir, "etcd"))
	etcd, err := store.StartEmbedded(ctx, store.EmbedConfig{
		Name:            name,
		DataDir:         filepath.Join(dir, "etcd"),
		ClientListen:    s.String("client-listen"),
		PeerListen:      s.String("peer-listen"),
		ClientAdvertise: s.String("advertise-client"),
		PeerAdvertise:   s.String("advertise-peer"),
		InitialCluster:  s.String("initial-cluster"),
		ClusterState:    s.String("initial-cluster-state"),
		ClusterToken:    s.String("initial-cluster-token"),
		ReadyTimeout:    readyTimeout,
		Logger:          a.logger("etcd"),
	})
	if err != nil {
		return err
	}
	defer func() {
		etcd.Close()
		log.Info("etcd member stopped", "name", name)
	}()
	fmt.Fprintf(a.stdout, "etcd member %s is ready: clients use %s\n", name, strings.Join(etcd.Endpoints(), ","))

	select {
	case <-ctx.Done():
		log.Info("shutting down (signal again to force)")
		return nil
	case err := <-etcd.Err():
		return err
	}
}
