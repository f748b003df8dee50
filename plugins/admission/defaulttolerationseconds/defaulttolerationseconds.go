package defaulttolerationseconds

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/tugboat-io/tug/plugins/admission/internal/policy"
	tug "github.com/tugboat-io/tug/sdk/go"
	"github.com/tugboat-io/tug/sdk/go/jsonread"
	"github.com/tugboat-io/tug/sdk/go/jsonwrite"
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
	tolerations, err := decodeTolerations(req.Object)
	if err != nil {
		return tug.DenyStatus(400, "BadRequest", err.Error())
	}
	notReady, unreachable := false, false
	for _, t := range tolerations {
		// An empty key tolerates every taint, an empty effect every effect.
		noExecute := t.effect == "NoExecute" || t.effect == ""
		notReady = notReady || (noExecute && (t.key == NotReadyTaint || t.key == ""))
		unreachable = unreachable || (noExecute && (t.key == UnreachableTaint || t.key == ""))
	}
	var add []json.RawMessage
	if !notReady {
		add = append(add, tolerationJSON(NotReadyTaint, cfg.NotReadySeconds))
	}
	if !unreachable {
		add = append(add, tolerationJSON(UnreachableTaint, cfg.UnreachableSeconds))
	}
	resp := tug.Allow()
	switch {
	case len(add) == 0:
	case tolerations == nil:
		resp.Add("/spec/tolerations", add)
	default:
		for _, t := range add {
			resp.Add("/spec/tolerations/-", t)
		}
	}
	return resp
}

// toleration is what the policy reads of a pod's toleration.
type toleration struct{ key, effect string }

// decodeTolerations reads a pod's spec.tolerations, all the policy reads of it, without
// reflection: nil when the pod has none (or null), empty when it has an empty list.
func decodeTolerations(raw []byte) ([]toleration, error) {
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return nil, errors.New("decode pod: not a JSON object")
	}
	var tolerations []toleration
	r := jsonread.NewShared(raw)
	r.Member("spec", func(r *jsonread.Reader) {
		r.Member("tolerations", func(r *jsonread.Reader) { tolerations = jsonread.List(r, readToleration) })
	})
	if err := r.End(); err != nil {
		return nil, fmt.Errorf("decode pod: %w", err)
	}
	return tolerations, nil
}

func readToleration(r *jsonread.Reader, t *toleration) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "key":
			t.key = r.String()
		case "effect":
			t.effect = r.String()
		default:
			r.Skip()
		}
	}
}

// tolerationJSON is the toleration the policy adds for a taint, as JSON written directly:
// the SDK would encode a tug.Toleration by reflection.
func tolerationJSON(taint string, seconds int64) json.RawMessage {
	b := jsonwrite.AppendString([]byte(`{"key":`), taint)
	b = append(b, `,"operator":"Exists","effect":"NoExecute","tolerationSeconds":`...)
	b = strconv.AppendInt(b, seconds, 10)
	return append(b, '}')
}
