package defaulttolerationseconds

import (
	"github.com/tugboat-io/tug/plugins/admission/internal/policy"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// The taints the tolerations are for, as the node lifecycle controller sets them.
const (
	NotReadyTaint    = "node.kubernetes.io/not-ready"
	UnreachableTaint = "node.kubernetes.io/unreachable"
)

// Config is the policy's configuration: the seconds of each toleration (kube's
// --default-not-ready-toleration-seconds and --default-unreachable-toleration-seconds).
type Config struct {
	NotReadySeconds    int64 `json:"notReadySeconds"`
	UnreachableSeconds int64 `json:"unreachableSeconds"`
}

var config = policy.NewConfig(func() Config { return Config{NotReadySeconds: 300, UnreachableSeconds: 300} })

// Admit applies the policy. kube runs it on updates too: a pod may gain tolerations in
// an update, so one created before the plugin was enabled gets them then.
func Admit(req *tug.AdmissionRequest) *tug.AdmissionResponse {
	if !policy.IsPod(req) || (req.Operation != "CREATE" && req.Operation != "UPDATE") {
		return tug.Allow()
	}
	cfg, err := config.Get(req.Config)
	if err != nil {
		return policy.ConfigError(err)
	}
	pod, err := tug.DecodePod(req.Object)
	if err != nil {
		return tug.DenyStatus(400, "BadRequest", err.Error())
	}
	notReady, unreachable := false, false
	for _, t := range pod.Spec.Tolerations {
		// An empty key tolerates every taint, an empty effect every effect.
		noExecute := t.Effect == "NoExecute" || t.Effect == ""
		notReady = notReady || (noExecute && (t.Key == NotReadyTaint || t.Key == ""))
		unreachable = unreachable || (noExecute && (t.Key == UnreachableTaint || t.Key == ""))
	}
	var add []tug.Toleration
	if !notReady {
		add = append(add, toleration(NotReadyTaint, cfg.NotReadySeconds))
	}
	if !unreachable {
		add = append(add, toleration(UnreachableTaint, cfg.UnreachableSeconds))
	}
	resp := tug.Allow()
	switch {
	case len(add) == 0:
	case pod.Spec.Tolerations == nil:
		resp.Add("/spec/tolerations", add)
	default:
		for _, t := range add {
			resp.Add("/spec/tolerations/-", t)
		}
	}
	return resp
}

func toleration(key string, seconds int64) tug.Toleration {
	return tug.Toleration{Key: key, Operator: "Exists", Effect: "NoExecute", TolerationSeconds: &seconds}
}
