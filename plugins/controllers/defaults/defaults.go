// Package defaults registers every default controller in one module: the host loads the
// module once per controller, configured with {"controller": "<name>"}, and each instance
// runs that controller's reconcile.
package defaults

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tugboat-io/tug/plugins/controllers/cronjob"
	"github.com/tugboat-io/tug/plugins/controllers/daemonset"
	"github.com/tugboat-io/tug/plugins/controllers/deployment"
	"github.com/tugboat-io/tug/plugins/controllers/endpoints"
	"github.com/tugboat-io/tug/plugins/controllers/job"
	"github.com/tugboat-io/tug/plugins/controllers/nodelifecycle"
	"github.com/tugboat-io/tug/plugins/controllers/replicaset"
	"github.com/tugboat-io/tug/plugins/controllers/resourcequota"
	"github.com/tugboat-io/tug/plugins/controllers/serviceaccount"
	"github.com/tugboat-io/tug/plugins/controllers/statefulset"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// Controllers are the module's controllers by the name configuration chooses them with.
var Controllers = map[string]tug.ReconcileFunc{
	"ReplicaSet":            replicaset.Reconcile,
	"ReplicationController": replicaset.Reconcile,
	"Deployment":            deployment.Reconcile,
	"NodeLifecycle":         nodelifecycle.Reconcile,
	"Job":                   job.Reconcile,
	"CronJob":               cronjob.Reconcile,
	"ResourceQuota":         resourcequota.Reconcile,
	"Endpoints":             endpoints.Reconcile,
	"EndpointSlice":         endpoints.ReconcileSlices,
	"ServiceAccount":        serviceaccount.Reconcile,
	"DaemonSet":             daemonset.Reconcile,
	"StatefulSet":           statefulset.Reconcile,
}

// Names are the controllers' names, sorted.
func Names() []string {
	names := make([]string, 0, len(Controllers))
	for n := range Controllers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Config is the module's configuration.
type Config struct {
	// Controller names the controller an instance runs.
	Controller string `json:"controller"`
	// NodeMonitorGracePeriod is how long a node may be silent before NodeLifecycle marks it
	// Unknown (a Go duration; default 40s).
	NodeMonitorGracePeriod string `json:"nodeMonitorGracePeriod,omitempty"`
}

var chosen tug.ReconcileFunc

// Register registers the module's configure and reconcile; call it once, from init.
func Register() {
	tug.RegisterConfigure(configure)
	tug.RegisterReconcile(tug.ReconcileFunc(func(req *tug.ReconcileRequest) (*tug.ReconcileResult, error) {
		if chosen == nil {
			return nil, fmt.Errorf("no controller configured: configure {\"controller\": one of %s}", strings.Join(Names(), ", "))
		}
		return chosen(req)
	}))
}

func configure(raw []byte) error {
	var c Config
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	f, ok := Controllers[c.Controller]
	if !ok {
		return fmt.Errorf("controller: %q is not one of %s", c.Controller, strings.Join(Names(), ", "))
	}
	nodelifecycle.GracePeriod = nodelifecycle.DefaultGracePeriod
	if c.NodeMonitorGracePeriod != "" {
		d, err := time.ParseDuration(c.NodeMonitorGracePeriod)
		if err != nil || d <= 0 {
			return fmt.Errorf("nodeMonitorGracePeriod: %q is not a positive duration", c.NodeMonitorGracePeriod)
		}
		nodelifecycle.GracePeriod = d
	}
	chosen = f
	return nil
}
