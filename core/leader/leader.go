package leader

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Timings: a leader that stops renewing loses the lease after LeaseDuration, and a candidate
// retries every RetryPeriod, so a crashed leader is replaced within LeaseDuration +
// RetryPeriod (12 s); a leader that stops cleanly releases the lease at once.
const (
	LeaseDuration = 10 * time.Second
	RenewDeadline = 7 * time.Second
	RetryPeriod   = 2 * time.Second
)

// Config names the lease and the candidate.
type Config struct {
	Client    kubernetes.Interface
	Namespace string // usually kube-system
	Name      string // the component: tug-scheduler, tug-controller-manager
	Identity  string // unique per process (hostname and a random suffix)
	Logger    *slog.Logger
	// LeaseDuration, RenewDeadline and RetryPeriod override the defaults above (tests).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// Run campaigns for the lease until ctx ends; while it holds the lease it runs lead with a
// context that ends when the lease is lost. It returns when ctx ends, after releasing the
// lease if it held it.
func Run(ctx context.Context, cfg Config, lead func(ctx context.Context)) error {
	if cfg.Client == nil || cfg.Name == "" || cfg.Identity == "" {
		return errors.New("leader: Client, Name and Identity are required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "leader-election", "lease", cfg.Namespace+"/"+cfg.Name, "identity", cfg.Identity)
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: cfg.Namespace, Name: cfg.Name},
		Client:     cfg.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: cfg.Identity},
	}
	for ctx.Err() == nil {
		// A term whose lead returns before its context ends (it failed to start) gives the
		// lease up, so that another candidate — or this one, afresh — can lead: holding a
		// renewed lease with nothing running would stall the cluster.
		term, endTerm := context.WithCancel(ctx)
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   cmp.Or(cfg.LeaseDuration, LeaseDuration),
			RenewDeadline:   cmp.Or(cfg.RenewDeadline, RenewDeadline),
			RetryPeriod:     cmp.Or(cfg.RetryPeriod, RetryPeriod),
			ReleaseOnCancel: true,
			Name:            cfg.Name,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					log.Info("leading")
					lead(ctx)
					endTerm()
				},
				OnStoppedLeading: func() { log.Info("stopped leading") },
				OnNewLeader: func(id string) {
					if id != cfg.Identity {
						log.Info("following", "leader", id)
					}
				},
			},
		})
		if err != nil {
			endTerm()
			return err
		}
		// Run returns when leadership is lost (or ctx ends, or the term ended); a lost
		// lease is campaigned for again.
		le.Run(term)
		endTerm()
	}
	return nil
}
