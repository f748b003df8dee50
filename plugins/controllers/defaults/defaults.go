// Package defaults registers every default controller in one module: the host loads the
// module once per controller, configured with {"controller": "<name>"}, and each instance
// runs that controller's reconcile.
package defaults

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/tugboat-io/tug/plugins/controllers/daemonset"
	"github.com/tugboat-io/tug/plugins/controllers/deployment"
	"github.com/tugboat-io/tug/plugins/controllers/replicaset"
	"github.com/tugboat-io/tug/plugins/controllers/statefulset"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// Controllers are the module's controllers by the name configuration chooses them with.
var Controllers = map[string]tug.ReconcileFunc{
	"ReplicaSet":            replicaset.Reconcile,
	"ReplicationController": replicaset.Reconcile,
	"Deployment":            deployment.Reconcile,
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
	chosen = f
	return nil
}
