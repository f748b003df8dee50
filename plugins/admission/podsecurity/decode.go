package podsecurity

import (
	"fmt"

	"github.com/tugboat-io/tug/sdk/go/jsonread"
)

// The pod decoder reads the fields the checks declare (checks.go) as json.Unmarshal into
// them would (decode_test.go holds it to that), without reflection: the policy decodes
// every pod created in a namespace that enforces a level, in wasm.

// decodePod decodes a pod's spec and its annotations.
func decodePod(raw []byte) (*podSpec, error) {
	s := &podSpec{}
	r := jsonread.NewShared(raw)
	if r.Begin('{') {
		for r.Next('}') {
			switch string(r.Key()) {
			case "metadata":
				r.Member("annotations", func(r *jsonread.Reader) { s.Annotations = r.StringMap() })
			case "spec":
				readSpec(r, s)
			default:
				r.Skip()
			}
		}
	}
	if err := r.End(); err != nil {
		return nil, fmt.Errorf("decode pod: %w", err)
	}
	return s, nil
}

func readSpec(r *jsonread.Reader, s *podSpec) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "hostNetwork":
			s.HostNetwork = r.Bool()
		case "hostPID":
			s.HostPID = r.Bool()
		case "hostIPC":
			s.HostIPC = r.Bool()
		case "runtimeClassName":
			s.RuntimeClassName = r.String()
		case "securityContext":
			s.SecurityContext = jsonread.Optional(r, readPodSecurity)
		case "volumes":
			s.Volumes = jsonread.List(r, readVolume)
		case "containers":
			s.Containers = jsonread.List(r, readContainer)
		case "initContainers":
			s.InitContainers = jsonread.List(r, readContainer)
		case "ephemeralContainers":
			s.Ephemeral = jsonread.List(r, readContainer)
		default:
			r.Skip()
		}
	}
}

func readPodSecurity(r *jsonread.Reader, p *podSecurity) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch key := r.Key(); {
		case string(key) == "sysctls":
			p.Sysctls = jsonread.List(r, func(r *jsonread.Reader, s *sysctl) { s.Name = r.StringMember("name") })
		case !readSecurityOption(r, key, &p.securityOptions):
			r.Skip()
		}
	}
}

func readContainer(r *jsonread.Reader, c *container) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "name":
			c.Name = r.String()
		case "securityContext":
			c.SecurityContext = jsonread.Optional(r, readContainerSecurity)
		case "ports":
			c.Ports = jsonread.List(r, func(r *jsonread.Reader, p *port) {
				r.Member("hostPort", func(r *jsonread.Reader) { p.HostPort = int32(r.Int(32)) })
			})
		default:
			r.Skip()
		}
	}
}

func readContainerSecurity(r *jsonread.Reader, c *containerSecurity) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch key := r.Key(); string(key) {
		case "privileged":
			c.Privileged = r.OptionalBool()
		case "allowPrivilegeEscalation":
			c.AllowPrivilegeEscalation = r.OptionalBool()
		case "procMount":
			c.ProcMount = r.String()
		case "capabilities":
			c.Capabilities = jsonread.Optional(r, readCapabilities)
		default:
			if !readSecurityOption(r, key, &c.securityOptions) {
				r.Skip()
			}
		}
	}
}

// readSecurityOption reads the value of the security context member key if it is one of
// securityOptions', and reports whether it was.
func readSecurityOption(r *jsonread.Reader, key []byte, o *securityOptions) bool {
	switch string(key) {
	case "runAsNonRoot":
		o.RunAsNonRoot = r.OptionalBool()
	case "runAsUser":
		o.RunAsUser = r.OptionalInt(64)
	case "seccompProfile":
		o.SeccompProfile = jsonread.Optional(r, readProfile)
	case "appArmorProfile":
		o.AppArmor = jsonread.Optional(r, readProfile)
	case "seLinuxOptions":
		o.SELinux = jsonread.Optional(r, readSELinux)
	case "windowsOptions":
		o.Windows = jsonread.Optional(r, func(r *jsonread.Reader, w *windows) {
			r.Member("hostProcess", func(r *jsonread.Reader) { w.HostProcess = r.OptionalBool() })
		})
	default:
		return false
	}
	return true
}

func readCapabilities(r *jsonread.Reader, c *capabilities) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "add":
			c.Add = r.Strings()
		case "drop":
			c.Drop = r.Strings()
		default:
			r.Skip()
		}
	}
}

func readProfile(r *jsonread.Reader, p *profile) { p.Type = r.StringMember("type") }

func readSELinux(r *jsonread.Reader, o *seLinuxOptions) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "user":
			o.User = r.String()
		case "role":
			o.Role = r.String()
		case "type":
			o.Type = r.String()
		default:
			r.Skip()
		}
	}
}

// readVolume reads a volume's name and its source: the first other member that is not
// null.
func readVolume(r *jsonread.Reader, v *volume) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch key := r.Key(); {
		case string(key) == "name":
			v.Name = r.String()
		case v.source == "":
			if source := string(key); !r.Null() {
				v.source = source
				r.Skip()
			}
		default:
			r.Skip()
		}
	}
}
