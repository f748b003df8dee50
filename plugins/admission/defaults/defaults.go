package defaults

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tugboat-io/tug/plugins/admission/defaulttolerationseconds"
	"github.com/tugboat-io/tug/plugins/admission/limitranger"
	"github.com/tugboat-io/tug/plugins/admission/namespacelifecycle"
	"github.com/tugboat-io/tug/plugins/admission/noderestriction"
	"github.com/tugboat-io/tug/plugins/admission/podsecurity"
	"github.com/tugboat-io/tug/plugins/admission/resourcequota"
	"github.com/tugboat-io/tug/plugins/admission/serviceaccount"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// Policies are the module's policies by the AdmissionPolicy name that chooses them.
var Policies = map[string]tug.AdmitFunc{
	"NamespaceLifecycle":       namespacelifecycle.Admit,
	"NodeRestriction":          noderestriction.Admit,
	"LimitRanger":              limitranger.Admit,
	"ServiceAccount":           serviceaccount.Admit,
	"DefaultTolerationSeconds": defaulttolerationseconds.Admit,
	"PodSecurity":              podsecurity.Admit,
	"ResourceQuota":            resourcequota.Admit,
}

// Names are the policies' names, sorted.
func Names() []string {
	names := make([]string, 0, len(Policies))
	for n := range Policies {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Register registers the module's admitter; call it once, from init.
func Register() { tug.RegisterAdmit(tug.AdmitFunc(Admit)) }

// Admit runs the policy the request names. A name the module does not serve is a
// misconfigured AdmissionPolicy: the request is denied (failing closed, as a policy that
// cannot run must not let requests through) with a message that says what to fix.
func Admit(req *tug.AdmissionRequest) *tug.AdmissionResponse {
	if f, ok := Policies[req.Policy]; ok {
		return f(req)
	}
	return tug.DenyStatus(500, "InternalError", fmt.Sprintf("the default admission module has no policy %q; it serves %s",
		req.Policy, strings.Join(Names(), ", ")))
}
