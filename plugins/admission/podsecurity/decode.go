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
				if !r.Begin('{') {
					continue
				}
				for r.Next('}') {
					if string(r.Key()) == "annotations" {
						s.Annotations = r.StringMap()
					} else {
						r.Skip()
					}
				}
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
		switch string(r.Key()) {
		case "runAsNonRoot":
			p.RunAsNonRoot = r.OptionalBool()
		case "runAsUser":
			p.RunAsUser = r.OptionalInt(64)
		case "seccompProfile":
			p.SeccompProfile = jsonread.Optional(r, readProfile)
		case "appArmorProfile":
			p.AppArmor = jsonread.Optional(r, readProfile)
		case "seLinuxOptions":
			p.SELinux = jsonread.Optional(r, readSELinux)
		case "windowsOptions":
			p.Windows = jsonread.Optional(r, readWindows)
		case "sysctls":
			p.Sysctls = jsonread.List(r, func(r *jsonread.Reader, s *sysctl) { s.Name = r.StringMember("name") })
		default:
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
			c.Ports = jsonread.List(r, readPort)
		default:
			r.Skip()
		}
	}
}

func readPort(r *jsonread.Reader, p *port) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		if string(r.Key()) == "hostPort" {
			p.HostPort = int32(r.Int(32))
		} else {
			r.Skip()
		}
	}
}

func readContainerSecurity(r *jsonread.Reader, c *containerSecurity) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "privileged":
			c.Privileged = r.OptionalBool()
		case "allowPrivilegeEscalation":
			c.AllowPrivilegeEscalation = r.OptionalBool()
		case "runAsNonRoot":
			c.RunAsNonRoot = r.OptionalBool()
		case "runAsUser":
			c.RunAsUser = r.OptionalInt(64)
		case "seccompProfile":
			c.SeccompProfile = jsonread.Optional(r, readProfile)
		case "appArmorProfile":
			c.AppArmor = jsonread.Optional(r, readProfile)
		case "seLinuxOptions":
			c.SELinux = jsonread.Optional(r, readSELinux)
		case "windowsOptions":
			c.Windows = jsonread.Optional(r, readWindows)
		case "procMount":
			c.ProcMount = r.String()
		case "capabilities":
			c.Capabilities = jsonread.Optional(r, readCapabilities)
		default:
			r.Skip()
		}
	}
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

func readWindows(r *jsonread.Reader, w *windows) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		if string(r.Key()) == "hostProcess" {
			w.HostProcess = r.OptionalBool()
		} else {
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
