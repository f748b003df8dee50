package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"

	"github.com/tugboat-io/tug/core/sim"
)

func newSimCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run hollow nodes: simulated nodes that take pods but run nothing",
		Long: `Register N hollow nodes with the cluster, as kwok does: each reports the capacity, labels
and taints given, stays Ready, renews its Lease, and marks the pods bound to it Running at once
(and removes them at once when they are deleted); pods that run to completion exit after
--run-for. Use them to try scheduling policies at scale.
The nodes stay registered when tug sim stops; delete them with kubectl delete node -l type=hollow.`,
		Example: `  tug sim --nodes 100 --cpu 16 --memory 64Gi --labels zone=a
  tug sim --nodes 10 --prefix gpu --extended nvidia.com/gpu=4 --taints gpu=true:NoSchedule`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s := a.settings
			count, err := s.Int64("nodes")
			if err != nil {
				return err
			}
			heartbeat, err := s.Duration("heartbeat")
			if err != nil {
				return err
			}
			runFor, err := s.Duration("run-for")
			if err != nil {
				return err
			}
			list := map[string][]string{}
			for _, name := range []string{"extended", "labels", "taints"} {
				if list[name], err = s.List(name); err != nil {
					return err
				}
			}
			capacity := corev1.ResourceList{}
			for name, v := range map[corev1.ResourceName]string{
				corev1.ResourceCPU: s.String("cpu"), corev1.ResourceMemory: s.String("memory"), corev1.ResourcePods: s.String("pods"),
			} {
				q, err := resource.ParseQuantity(v)
				if err != nil {
					return fmt.Errorf("--%s %q: %w", name, v, err)
				}
				capacity[name] = q
			}
			for _, e := range list["extended"] {
				name, v, ok := strings.Cut(e, "=")
				q, err := resource.ParseQuantity(v)
				if !ok || err != nil {
					return fmt.Errorf("--extended %q: want NAME=QUANTITY", e)
				}
				capacity[corev1.ResourceName(name)] = q
			}
			labels := map[string]string{}
			for _, l := range list["labels"] {
				k, v, ok := strings.Cut(l, "=")
				if !ok || k == "" {
					return fmt.Errorf("--labels %q: want KEY=VALUE", l)
				}
				labels[k] = v
			}
			var taints []corev1.Taint
			for _, t := range list["taints"] {
				taint, err := sim.ParseTaint(t)
				if err != nil {
					return err
				}
				taints = append(taints, taint)
			}
			rc, err := clientConfig(s.String("kubeconfig"))
			if err != nil {
				return err
			}
			rc.QPS, rc.Burst = 200, 400 // thousands of nodes register and heartbeat
			rc.ContentConfig = componentContent
			client, err := kubernetes.NewForConfig(rc)
			if err != nil {
				return err
			}
			nodes, err := sim.New(sim.Config{Client: client, Prefix: s.String("prefix"), Count: int(count),
				Capacity: capacity, Labels: labels, Taints: taints, Heartbeat: heartbeat, RunFor: runFor, Logger: a.log})
			if err != nil {
				return err
			}
			return nodes.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.String("kubeconfig", "", "kubeconfig of the cluster (default $KUBECONFIG, else ./.tug/kubeconfig)")
	f.Int("nodes", 10, "how many hollow nodes")
	f.String("prefix", "hollow", "node names are PREFIX-0, PREFIX-1, …")
	f.String("cpu", "8", "each node's cpu")
	f.String("memory", "32Gi", "each node's memory")
	f.String("pods", "110", "each node's pod capacity")
	f.StringSlice("extended", nil, "extended resources, NAME=QUANTITY (e.g. nvidia.com/gpu=4)")
	f.StringSlice("labels", nil, "node labels, KEY=VALUE")
	f.StringSlice("taints", nil, "node taints, KEY=VALUE:EFFECT")
	f.Duration("heartbeat", 10*time.Second, "how often each node renews its Lease (0: never, and the node lifecycle controller marks the nodes Unknown and evicts their pods after --node-monitor-grace-period)")
	f.Duration("run-for", time.Second, "how long pods that run to completion (restartPolicy Never, OnFailure) run before they exit 0 (per pod: annotations sim.tug.dev/run-for, sim.tug.dev/exit-code)")
	return cmd
}
