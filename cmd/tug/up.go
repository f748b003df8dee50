package main

import (
	"context"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/tugboat-io/tug/core/store"
)

func newUpCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run a whole cluster on this machine: embedded etcd and the API server",
		Long: `Run a whole cluster on this machine: an embedded etcd member storing its data in
<data-dir>/etcd and the API server. When the API server answers, tug writes
<data-dir>/kubeconfig and prints how to use it. Ctrl-C (SIGINT) or SIGTERM stops everything
cleanly; the data stays for the next "tug up".

One tug process at a time may use a data dir. To run several clusters side by side, give each
its own --data-dir, --listen, --etcd-client-listen and --etcd-peer-listen.`,
		Example: `  tug up
  tug up --data-dir /tmp/c2 --listen 127.0.0.1:7443 --etcd-client-listen 127.0.0.1:3379 --etcd-peer-listen 127.0.0.1:3380`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runUp(cmd.Context()) },
	}
	f := cmd.Flags()
	addAPIServerFlags(f)
	f.String("etcd-client-listen", store.DefaultEmbedClientListen, "HOST:PORT the embedded etcd serves clients on")
	f.String("etcd-peer-listen", store.DefaultEmbedPeerListen, "HOST:PORT the embedded etcd serves peers on")
	f.Bool("node", true, "run a node agent in this process, so the cluster runs pods on this machine")
	addNodeFlags(f)
	addProxyFlags(f)
	return cmd
}

func (a *app) runUp(ctx context.Context) error {
	o, err := a.apiOptions()
	if err != nil {
		return err
	}
	dir, lock, err := a.openDataDir()
	if err != nil {
		return err
	}
	defer a.releaseLock(lock)
	if err := checkListenFree("--listen", o.listen); err != nil {
		return err
	}

	log := a.logger("tug")
	log.Info("starting embedded etcd", "data-dir", filepath.Join(dir, "etcd"))
	etcd, err := store.StartEmbedded(ctx, store.EmbedConfig{
		Name:         store.DefaultEmbedName,
		DataDir:      filepath.Join(dir, "etcd"),
		ClientListen: a.settings.String("etcd-client-listen"),
		PeerListen:   a.settings.String("etcd-peer-listen"),
		ClusterState: "new",
		Logger:       a.logger("etcd"),
	})
	if err != nil {
		return err
	}
	defer func() {
		etcd.Close()
		log.Info("embedded etcd stopped")
	}()

	cli, err := newEtcdClient(etcd.Endpoints(), nil, a.logger("etcd-client"))
	if err != nil {
		return err
	}
	defer a.closeEtcdClient(cli)

	withNode, err := a.settings.Bool("node")
	if err != nil {
		return err
	}
	return a.serveAPI(ctx, o, dir, cli, etcd.Err(), "tug is up", withNode)
}
