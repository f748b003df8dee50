package podsecurity

import (
	"fmt"
	"slices"
	"strings"
)

// What the checks read of a pod spec, under the JSON names decode.go reads them by.
type podSpec struct {
	HostNetwork      bool              `json:"hostNetwork"`
	HostPID          bool              `json:"hostPID"`
	HostIPC          bool              `json:"hostIPC"`
	RuntimeClassName string            `json:"runtimeClassName"`
	SecurityContext  *podSecurity      `json:"securityContext"`
	Volumes          []volume          `json:"volumes"`
	Containers       []container       `json:"containers"`
	InitContainers   []container       `json:"initContainers"`
	Ephemeral        []container       `json:"ephemeralContainers"`
	Annotations      map[string]string `json:"-"` // the pod's, for AppArmor
}

// securityOptions are what a pod's and a container's security contexts both set.
type securityOptions struct {
	RunAsNonRoot   *bool           `json:"runAsNonRoot"`
	RunAsUser      *int64          `json:"runAsUser"`
	SeccompProfile *profile        `json:"seccompProfile"`
	AppArmor       *profile        `json:"appArmorProfile"`
	SELinux        *seLinuxOptions `json:"seLinuxOptions"`
	Windows        *windows        `json:"windowsOptions"`
}

type podSecurity struct {
	securityOptions
	Sysctls []sysctl `json:"sysctls"`
}

type sysctl struct {
	Name string `json:"name"`
}

type profile struct {
	Type string `json:"type"`
}

type seLinuxOptions struct {
	User string `json:"user"`
	Role string `json:"role"`
	Type string `json:"type"`
}

type windows struct {
	HostProcess *bool `json:"hostProcess"`
}

type volume struct {
	Name string `json:"name"`
	// source is the volume's type: its one member besides name (the first that is not
	// null, should there be several).
	source string
}

type container struct {
	Name            string             `json:"name"`
	SecurityContext *containerSecurity `json:"securityContext"`
	Ports           []port             `json:"ports"`
}

type containerSecurity struct {
	securityOptions
	Privileged               *bool         `json:"privileged"`
	AllowPrivilegeEscalation *bool         `json:"allowPrivilegeEscalation"`
	ProcMount                string        `json:"procMount"`
	Capabilities             *capabilities `json:"capabilities"`
}

type capabilities struct {
	Add  []string `json:"add"`
	Drop []string `json:"drop"`
}

type port struct {
	HostPort int32 `json:"hostPort"`
}

// violation is one failed check: kube's check id (which orders them), reason and detail.
type violation struct{ id, reason, detail string }

func (s *podSpec) all() []*container {
	out := make([]*container, 0, len(s.Containers)+len(s.InitContainers)+len(s.Ephemeral))
	for _, l := range [][]container{s.InitContainers, s.Containers, s.Ephemeral} {
		for i := range l {
			out = append(out, &l[i])
		}
	}
	return out
}

func quoted(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// baselineCaps are the capabilities the baseline level lets a container add.
var baselineCaps = []string{"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}

// safeSysctls are the sysctls the baseline level allows (kube's latest list).
var safeSysctls = []string{"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time",
	"net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}

// restrictedVolumes are the volume sources the restricted level allows.
var restrictedVolumes = []string{"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}

var seLinuxTypes = []string{"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}

// baseline runs the baseline level's checks, in kube's order.
func (s *podSpec) baseline() []violation {
	var v []violation
	psc := s.SecurityContext
	if psc == nil {
		psc = &podSecurity{}
	}
	cs := s.all()

	// hostProcess
	var hp []string
	podHP := psc.Windows != nil && psc.Windows.HostProcess != nil && *psc.Windows.HostProcess
	for _, c := range cs {
		if sc := c.SecurityContext; sc != nil && sc.Windows != nil && sc.Windows.HostProcess != nil && *sc.Windows.HostProcess {
			hp = append(hp, c.Name)
		}
	}
	if podHP || len(hp) > 0 {
		who := "pod"
		if len(hp) > 0 {
			who = plural(len(hp), "container ", "containers ") + quoted(hp)
			if podHP {
				who = "pod and " + who
			}
		}
		v = append(v, violation{"hostProcess", "hostProcess", who + " must not set securityContext.windowsOptions.hostProcess=true"})
	}

	// host namespaces
	var ns []string
	if s.HostNetwork {
		ns = append(ns, "hostNetwork=true")
	}
	if s.HostPID {
		ns = append(ns, "hostPID=true")
	}
	if s.HostIPC {
		ns = append(ns, "hostIPC=true")
	}
	if len(ns) > 0 {
		v = append(v, violation{"hostNamespaces", "host namespaces", strings.Join(ns, ", ")})
	}

	// privileged
	var priv []string
	for _, c := range cs {
		if sc := c.SecurityContext; sc != nil && sc.Privileged != nil && *sc.Privileged {
			priv = append(priv, c.Name)
		}
	}
	if len(priv) > 0 {
		v = append(v, violation{"privileged", "privileged", plural(len(priv), "container ", "containers ") + quoted(priv) + " must not set securityContext.privileged=true"})
	}

	// capabilities
	var capC, capAdds []string
	for _, c := range cs {
		if sc := c.SecurityContext; sc != nil && sc.Capabilities != nil {
			bad := false
			for _, a := range sc.Capabilities.Add {
				if !slices.Contains(baselineCaps, a) {
					bad = true
					if !slices.Contains(capAdds, a) {
						capAdds = append(capAdds, a)
					}
				}
			}
			if bad {
				capC = append(capC, c.Name)
			}
		}
	}
	if len(capC) > 0 {
		v = append(v, violation{"capabilities_baseline", "non-default capabilities", plural(len(capC), "container ", "containers ") + quoted(capC) + " must not include " + quoted(capAdds) + " in securityContext.capabilities.add"})
	}

	// hostPath volumes
	var hostPaths []string
	for _, vol := range s.Volumes {
		if vol.source == "hostPath" {
			hostPaths = append(hostPaths, vol.Name)
		}
	}
	if len(hostPaths) > 0 {
		v = append(v, violation{"hostPathVolumes", "hostPath volumes", plural(len(hostPaths), "volume ", "volumes ") + quoted(hostPaths)})
	}

	// hostPorts
	var portC []string
	var ports []string
	for _, c := range cs {
		used := false
		for _, p := range c.Ports {
			if p.HostPort != 0 {
				used = true
				ports = append(ports, fmt.Sprint(p.HostPort))
			}
		}
		if used {
			portC = append(portC, c.Name)
		}
	}
	if len(portC) > 0 {
		v = append(v, violation{"hostPorts", "hostPort", plural(len(portC), "container ", "containers ") + quoted(portC) + plural(len(portC), " uses ", " use ") +
			plural(len(ports), "hostPort ", "hostPorts ") + strings.Join(ports, ", ")})
	}

	// AppArmor
	var aa []string
	badAA := func(t string) bool { return t != "" && t != "RuntimeDefault" && t != "Localhost" }
	if psc.AppArmor != nil && badAA(psc.AppArmor.Type) {
		aa = append(aa, fmt.Sprintf("pod must not set securityContext.appArmorProfile.type to %q", psc.AppArmor.Type))
	}
	for _, c := range cs {
		if sc := c.SecurityContext; sc != nil && sc.AppArmor != nil && badAA(sc.AppArmor.Type) {
			aa = append(aa, fmt.Sprintf("container %q must not set securityContext.appArmorProfile.type to %q", c.Name, sc.AppArmor.Type))
		}
	}
	keys := make([]string, 0, len(s.Annotations))
	for k := range s.Annotations {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if strings.HasPrefix(k, "container.apparmor.security.beta.kubernetes.io/") {
			val := s.Annotations[k]
			if val != "runtime/default" && !strings.HasPrefix(val, "localhost/") {
				aa = append(aa, fmt.Sprintf("%s=%q", k, val))
			}
		}
	}
	if len(aa) > 0 {
		v = append(v, violation{"appArmorProfile", plural(len(aa), "forbidden AppArmor profile", "forbidden AppArmor profiles"), strings.Join(aa, ", ")})
	}

	// SELinux
	var se []string
	checkSE := func(who string, o *seLinuxOptions) {
		if o == nil {
			return
		}
		var bad []string
		if !slices.Contains(seLinuxTypes, o.Type) {
			bad = append(bad, fmt.Sprintf("type %q", o.Type))
		}
		if o.User != "" {
			bad = append(bad, fmt.Sprintf("user %q", o.User))
		}
		if o.Role != "" {
			bad = append(bad, fmt.Sprintf("role %q", o.Role))
		}
		if len(bad) > 0 {
			se = append(se, who+" set forbidden securityContext.seLinuxOptions: "+strings.Join(bad, ", "))
		}
	}
	checkSE("pod", psc.SELinux)
	for _, c := range cs {
		// Named only when there is something to check: fmt is slow in wasm.
		if c.SecurityContext != nil && c.SecurityContext.SELinux != nil {
			checkSE(fmt.Sprintf("container %q", c.Name), c.SecurityContext.SELinux)
		}
	}
	if len(se) > 0 {
		v = append(v, violation{"seLinuxOptions", "seLinuxOptions", strings.Join(se, "; ")})
	}

	// /proc mount
	var pm []string
	for _, c := range cs {
		if sc := c.SecurityContext; sc != nil && sc.ProcMount != "" && sc.ProcMount != "Default" {
			pm = append(pm, c.Name)
		}
	}
	if len(pm) > 0 {
		v = append(v, violation{"procMount", "procMount", plural(len(pm), "container ", "containers ") + quoted(pm) + " must not set securityContext.procMount to \"Unmasked\""})
	}

	// seccomp: not Unconfined
	var sc []string
	if psc.SeccompProfile != nil && psc.SeccompProfile.Type == "Unconfined" {
		sc = append(sc, `pod must not set securityContext.seccompProfile.type to "Unconfined"`)
	}
	var scC []string
	for _, c := range cs {
		if csc := c.SecurityContext; csc != nil && csc.SeccompProfile != nil && csc.SeccompProfile.Type == "Unconfined" {
			scC = append(scC, c.Name)
		}
	}
	if len(scC) > 0 {
		sc = append(sc, plural(len(scC), "container ", "containers ")+quoted(scC)+` must not set securityContext.seccompProfile.type to "Unconfined"`)
	}
	if len(sc) > 0 {
		v = append(v, violation{"seccompProfile_baseline", "seccompProfile", strings.Join(sc, "; ")})
	}

	// sysctls
	var bad []string
	for _, s := range psc.Sysctls {
		if !slices.Contains(safeSysctls, s.Name) {
			bad = append(bad, s.Name)
		}
	}
	if len(bad) > 0 {
		v = append(v, violation{"sysctls", "forbidden sysctls", strings.Join(bad, ", ")})
	}
	return v
}

// restricted runs the restricted level's checks beyond baseline's, in kube's order.
func (s *podSpec) restricted() []violation {
	var v []violation
	psc := s.SecurityContext
	if psc == nil {
		psc = &podSecurity{}
	}
	cs := s.all()

	// volume types
	var vt []string
	for _, vol := range s.Volumes {
		if !slices.Contains(restrictedVolumes, vol.source) {
			vt = append(vt, fmt.Sprintf("volume %q uses restricted volume type %q", vol.Name, vol.source))
		}
	}
	if len(vt) > 0 {
		v = append(v, violation{"restrictedVolumes", "restricted volume types", strings.Join(vt, ", ")})
	}

	// allowPrivilegeEscalation
	var ape []string
	for _, c := range cs {
		if sc := c.SecurityContext; sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			ape = append(ape, c.Name)
		}
	}
	if len(ape) > 0 {
		v = append(v, violation{"allowPrivilegeEscalation", "allowPrivilegeEscalation != false", plural(len(ape), "container ", "containers ") + quoted(ape) + " must set securityContext.allowPrivilegeEscalation=false"})
	}

	// runAsNonRoot
	var rnr []string
	podSet := psc.RunAsNonRoot != nil
	if podSet && !*psc.RunAsNonRoot {
		rnr = append(rnr, "pod must not set securityContext.runAsNonRoot=false")
	}
	var falseC, unsetC []string
	for _, c := range cs {
		sc := c.SecurityContext
		switch {
		case sc != nil && sc.RunAsNonRoot != nil && !*sc.RunAsNonRoot:
			falseC = append(falseC, c.Name)
		case (sc == nil || sc.RunAsNonRoot == nil) && !podSet:
			unsetC = append(unsetC, c.Name)
		}
	}
	if len(falseC) > 0 {
		rnr = append(rnr, plural(len(falseC), "container ", "containers ")+quoted(falseC)+" must not set securityContext.runAsNonRoot=false")
	}
	if len(unsetC) > 0 {
		rnr = append(rnr, plural(len(unsetC), "pod or container ", "pod or containers ")+quoted(unsetC)+" must set securityContext.runAsNonRoot=true")
	}
	if len(rnr) > 0 {
		v = append(v, violation{"runAsNonRoot", "runAsNonRoot != true", strings.Join(rnr, "; ")})
	}

	// runAsUser=0
	var rau []string
	if psc.RunAsUser != nil && *psc.RunAsUser == 0 {
		rau = append(rau, "pod must not set runAsUser=0")
	}
	var rootC []string
	for _, c := range cs {
		if sc := c.SecurityContext; sc != nil && sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			rootC = append(rootC, c.Name)
		}
	}
	if len(rootC) > 0 {
		rau = append(rau, plural(len(rootC), "container ", "containers ")+quoted(rootC)+" must not set runAsUser=0")
	}
	if len(rau) > 0 {
		v = append(v, violation{"runAsUser", "runAsUser=0", strings.Join(rau, "; ")})
	}

	// seccomp: RuntimeDefault or Localhost, on the pod or every container
	okType := func(p *profile) bool { return p != nil && (p.Type == "RuntimeDefault" || p.Type == "Localhost") }
	var scm []string
	podOK := okType(psc.SeccompProfile)
	if psc.SeccompProfile != nil && !podOK {
		scm = append(scm, fmt.Sprintf("pod must not set securityContext.seccompProfile.type to %q", psc.SeccompProfile.Type))
	}
	var badC, missC []string
	for _, c := range cs {
		var p *profile
		if c.SecurityContext != nil {
			p = c.SecurityContext.SeccompProfile
		}
		switch {
		case p != nil && !okType(p):
			badC = append(badC, c.Name)
		case p == nil && !podOK && psc.SeccompProfile == nil:
			missC = append(missC, c.Name)
		}
	}
	if len(badC) > 0 {
		scm = append(scm, plural(len(badC), "container ", "containers ")+quoted(badC)+` must not set securityContext.seccompProfile.type to "Unconfined"`)
	}
	if len(missC) > 0 {
		scm = append(scm, plural(len(missC), "pod or container ", "pod or containers ")+quoted(missC)+` must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"`)
	}
	if len(scm) > 0 {
		v = append(v, violation{"seccompProfile_restricted", "seccompProfile", strings.Join(scm, "; ")})
	}

	// capabilities: drop ALL, add only NET_BIND_SERVICE
	var noDrop, badAdd, adds []string
	for _, c := range cs {
		sc := c.SecurityContext
		if sc == nil || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			noDrop = append(noDrop, c.Name)
		}
		if sc != nil && sc.Capabilities != nil {
			bad := false
			for _, a := range sc.Capabilities.Add {
				if a != "NET_BIND_SERVICE" {
					bad = true
					if !slices.Contains(adds, a) {
						adds = append(adds, a)
					}
				}
			}
			if bad {
				badAdd = append(badAdd, c.Name)
			}
		}
	}
	var capm []string
	if len(noDrop) > 0 {
		capm = append(capm, plural(len(noDrop), "container ", "containers ")+quoted(noDrop)+` must set securityContext.capabilities.drop=["ALL"]`)
	}
	if len(badAdd) > 0 {
		capm = append(capm, plural(len(badAdd), "container ", "containers ")+quoted(badAdd)+" must not include "+quoted(adds)+" in securityContext.capabilities.add")
	}
	if len(capm) > 0 {
		v = append(v, violation{"capabilities_restricted", "unrestricted capabilities", strings.Join(capm, "; ")})
	}
	return v
}
