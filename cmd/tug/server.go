package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"
)

func newServerCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the API server against an external etcd cluster",
		Long: `Run the API server against an external etcd cluster (for instance three "tug etcd"
members). Several servers may share one etcd cluster, each with its own --data-dir and
--listen. When the API server answers, tug writes <data-dir>/kubeconfig pointing at it.`,
		Example: `  tug server --etcd-endpoints 127.0.0.1:2379,127.0.0.1:2479,127.0.0.1:2579 --data-dir /var/lib/tug --listen 0.0.0.0:6443`,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return a.runServer(cmd.Context()) },
	}
	f := cmd.Flags()
	addAPIServerFlags(f)
	f.String("etcd-endpoints", "", "comma-separated etcd client endpoints, HOST:PORT or URLs (required)")
	f.String("etcd-cafile", "", "PEM CA bundle that verifies the etcd servers (enables TLS)")
	f.String("etcd-certfile", "", "PEM client certificate presented to etcd")
	f.String("etcd-keyfile", "", "PEM key of --etcd-certfile")
	f.Duration("etcd-connect-timeout", defaultEtcdConnectTimeout, "how long to wait at startup for a quorum of etcd to answer")
	return cmd
}

func (a *app) runServer(ctx context.Context) error {
	s := a.settings
	endpoints, err := s.List("etcd-endpoints")
	if err != nil {
		return err
	}
	if len(endpoints) == 0 {
		return errors.New("--etcd-endpoints (TUG_ETCD_ENDPOINTS) is required: the client URLs of the etcd cluster; use \"tug up\" for an embedded one")
	}
	tlsCfg, err := etcdTLS(s.String("etcd-cafile"), s.String("etcd-certfile"), s.String("etcd-keyfile"))
	if err != nil {
		return err
	}
	connectTimeout, err := s.Duration("etcd-connect-timeout")
	if err != nil {
		return err
	}
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

	a.logger("tug").Info("connecting to etcd", "endpoints", endpoints, "tls", tlsCfg != nil)
	cli, err := newEtcdClient(endpoints, tlsCfg, a.logger("etcd-client"))
	if err != nil {
		return err
	}
	defer a.closeEtcdClient(cli)
	if err := waitEtcd(ctx, cli, connectTimeout, a.logger("tug")); err != nil {
		return err
	}
	return a.serveAPI(ctx, o, dir, cli, nil, "tug server is up", false)
}
