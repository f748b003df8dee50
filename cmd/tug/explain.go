package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/tugboat-io/tug/core/scheduler"
)

// schedulerLease is the Lease the schedulers elect their leader by; the leader records its
// explain URL on it.
const schedulerLease = "tug-scheduler"

func newExplainCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "explain",
		Short: "Explain the scheduler's decisions",
	}
	pod := &cobra.Command{
		Use:   "pod NAME",
		Short: "Show the scheduler's last attempt for a pod: each node's filter verdict and the feasible nodes' scores",
		Long: `Ask the leading scheduler for its last attempt at placing a pod: for every node it evaluated,
the plugin that filtered it out and why, and for the feasible nodes, each score plugin's
weighted score and the total. The scheduler remembers the last attempt of the 10000 pods it
tried most recently, from the time it became leader.`,
		Example: `  tug explain pod web
  tug explain pod huge -n batch -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kubeconfig, _ := cmd.Flags().GetString("kubeconfig")
			ns, _ := cmd.Flags().GetString("namespace")
			output, _ := cmd.Flags().GetString("output")
			cfg, err := clientConfig(kubeconfig)
			if err != nil {
				return err
			}
			client, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			lease, err := client.CoordinationV1().Leases("kube-system").Get(ctx, schedulerLease, metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("find the scheduler: %w", err)
			}
			base := lease.Annotations[scheduler.ExplainAnnotation]
			if base == "" {
				return fmt.Errorf("the leading scheduler (%s) does not serve explanations", ptrString(lease.Spec.HolderIdentity))
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/explain/"+url.PathEscape(ns)+"/"+url.PathEscape(args[0]), nil)
			if err != nil {
				return err
			}
			// The endpoint is the leader's, beside its API server, and asks for the same
			// credentials and trusts the same CA.
			hc, err := rest.HTTPClientFor(cfg)
			if err != nil {
				return err
			}
			resp, err := hc.Do(req)
			if err != nil {
				return fmt.Errorf("ask the scheduler: %w", err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
			if err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("scheduler: %s", body)
			}
			if output == "json" {
				_, err := os.Stdout.Write(body)
				return err
			}
			var x scheduler.Explanation
			if err := json.Unmarshal(body, &x); err != nil {
				return fmt.Errorf("scheduler's answer: %w", err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprint(tw, scheduler.FormatExplanation(&x))
			return tw.Flush()
		},
	}
	pod.Flags().StringP("namespace", "n", "default", "the pod's namespace")
	pod.Flags().StringP("output", "o", "", "json for the explanation as the scheduler answers it")
	cmd.PersistentFlags().String("kubeconfig", "", "kubeconfig of the cluster (default $KUBECONFIG, else ./.tug/kubeconfig)")
	cmd.AddCommand(pod)
	return cmd
}

func ptrString(s *string) string {
	if s == nil {
		return "none"
	}
	return *s
}
