package kubelet

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// A pod's name resolution, as kubelet's pkg/kubelet/network/dns and its managed hosts file
// do it. The functions here decide and do no I/O: podResolvConf computes what the pod's
// /etc/resolv.conf says from its spec, the node's cluster DNS settings and the node's own
// resolv.conf; podHostname its hostname and domain; podHostsFile its /etc/hosts. The worker
// (podfiles.go) reads the node's files, writes the results under the pod's directory and
// reports the problems as Warning events. Bad input never stops a pod: what is invalid is
// left out, said in an event, and the pod runs with the rest.

// Limits of a pod's resolver configuration, the API's (and kubelet's): glibc reads at most
// three nameservers; the search line's limits are those of ExpandedDNSConfig, the only ones
// since Kubernetes 1.28.
const (
	maxDNSNameservers     = 3
	maxDNSSearchPaths     = 32
	maxDNSSearchListChars = 2048
	// maxDNSSearchPathLen: glibc aborts on a longer search path, so kubelet drops it.
	maxDNSSearchPathLen = validation.DNS1123SubdomainMaxLength
	// maxHostnameFQDNLen is the longest hostname the kernel takes (setHostnameAsFQDN).
	maxHostnameFQDNLen = 64
	// maxResolvConfBytes bounds how much of the node's resolv.conf is read.
	maxResolvConfBytes = 10 << 20
)

// Reasons of the Warning events about a pod's name resolution, kubelet's.
const (
	reasonMissingClusterDNS = "MissingClusterDNS"
	reasonDNSConfigForming  = "DNSConfigForming"
)

// defaultDNSOptions are the options of a ClusterFirst pod: names with fewer than five dots
// are tried with the search domains first, so "svc", "svc.ns" and "svc.ns.svc" resolve.
var defaultDNSOptions = []string{"ndots:5"}

// resolvConf is a resolver configuration, what /etc/resolv.conf says.
type resolvConf struct {
	Nameservers []string
	Searches    []string
	// Options are "name" or "name:value".
	Options []string
}

// String renders rc as a resolv.conf file.
func (rc resolvConf) String() string {
	var b strings.Builder
	if len(rc.Searches) > 0 {
		b.WriteString("search " + strings.Join(rc.Searches, " ") + "\n")
	}
	for _, ns := range rc.Nameservers {
		b.WriteString("nameserver " + ns + "\n")
	}
	if len(rc.Options) > 0 {
		b.WriteString("options " + strings.Join(rc.Options, " ") + "\n")
	}
	return b.String()
}

func (rc resolvConf) clone() resolvConf {
	return resolvConf{
		Nameservers: append([]string(nil), rc.Nameservers...),
		Searches:    append([]string(nil), rc.Searches...),
		Options:     append([]string(nil), rc.Options...),
	}
}

// parseResolvConf reads a resolv.conf as glibc does: nameserver lines add up; the last search
// or domain line wins (trailing dots dropped, so a domain written both ways counts once);
// options lines add up, a later option overriding an earlier one of the same name. Comment
// lines start with # or ;. Anything else is ignored.
func parseResolvConf(data []byte) resolvConf {
	var rc resolvConf
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) > 1 {
				rc.Nameservers = append(rc.Nameservers, f[1])
			}
		case "search", "domain":
			names := f[1:]
			if f[0] == "domain" && len(names) > 1 {
				names = names[:1]
			}
			rc.Searches = nil
			for _, s := range names {
				if s != "." {
					s = strings.TrimSuffix(s, ".")
				}
				if s != "" {
					rc.Searches = append(rc.Searches, s)
				}
			}
		case "options":
			rc.Options = mergeOptions(rc.Options, f[1:])
		}
	}
	return rc
}

// nodeDNS is what the node contributes to its pods' resolver configuration.
type nodeDNS struct {
	// clusterDNS are the cluster DNS server's addresses (Config.ClusterDNS).
	clusterDNS []netip.Addr
	// domain is the cluster domain (Config.ClusterDomain); "" adds no cluster search domains.
	domain string
	// host is the node's resolv.conf, nil when pods inherit nothing from it (ResolvConf "-").
	host *resolvConf
	// nodeIP picks the loopback nameserver of pods that inherit from no host file: ::1 on an
	// IPv6 node, else 127.0.0.1.
	nodeIP netip.Addr
}

// problem is something wrong with a pod's name resolution settings, reported as a Warning
// event with this reason and message; the pod runs with what is valid.
type problem struct{ reason, message string }

// podResolvConf computes a pod's resolver configuration:
//
//   - ClusterFirst (the default, also for an empty or unknown dnsPolicy): the cluster DNS
//     server is the only nameserver, the search list is <ns>.svc.<domain>, svc.<domain>,
//     <domain> and then the node's, options ndots:5. A node with no cluster DNS address
//     falls back to Default (MissingClusterDNS), as does a hostNetwork pod.
//   - ClusterFirstWithHostNet: ClusterFirst, for hostNetwork pods too.
//   - Default: the node's resolv.conf (nameservers, search, options). A node that inherits
//     nothing (ResolvConf "-") gives its loopback as nameserver and the root as search list,
//     as kubelet with --resolv-conf="" does.
//   - None: nothing but spec.dnsConfig.
//
// spec.dnsConfig is then added on top: its nameservers and searches appended, duplicates
// left out; its options override options of the same name and the others are appended.
// Finally the limits apply: three nameservers, 32 search domains of at most 253 characters
// and 2048 characters in all; what does not fit is left out, from the end.
func podResolvConf(pod *corev1.Pod, node nodeDNS) (resolvConf, []problem) {
	var probs []problem
	warn := func(format string, args ...any) {
		probs = append(probs, problem{reasonDNSConfigForming, fmt.Sprintf(format, args...)})
	}
	policy := pod.Spec.DNSPolicy
	var cluster bool
	switch policy {
	case corev1.DNSNone, corev1.DNSDefault:
	case corev1.DNSClusterFirstWithHostNet:
		cluster = true
	case corev1.DNSClusterFirst, "":
		policy = corev1.DNSClusterFirst
		cluster = !pod.Spec.HostNetwork
	default:
		warn("spec.dnsPolicy %q is none of ClusterFirst, ClusterFirstWithHostNet, Default, None; using ClusterFirst", policy)
		policy, cluster = corev1.DNSClusterFirst, true
	}
	if cluster && len(node.clusterDNS) == 0 {
		probs = append(probs, problem{reasonMissingClusterDNS, fmt.Sprintf(
			"the node has no cluster DNS address configured (--cluster-dns), so the pod cannot use dnsPolicy %q: falling back to %q",
			policy, corev1.DNSDefault)})
		cluster = false
	}

	var rc resolvConf
	switch {
	case policy == corev1.DNSNone:
	case cluster:
		for _, ip := range node.clusterDNS {
			rc.Nameservers = append(rc.Nameservers, ip.String())
		}
		if d := node.domain; d != "" {
			rc.Searches = []string{pod.Namespace + ".svc." + d, "svc." + d, d}
		}
		if node.host != nil {
			rc.Searches = append(rc.Searches, node.host.Searches...)
		}
		rc.Options = append([]string(nil), defaultDNSOptions...)
	case node.host != nil:
		rc = node.host.clone()
	default:
		lo := "127.0.0.1"
		if node.nodeIP.Is6() && !node.nodeIP.Is4In6() {
			lo = "::1"
		}
		rc.Nameservers, rc.Searches = []string{lo}, []string{"."}
	}

	if dc := pod.Spec.DNSConfig; dc != nil {
		for i, s := range dc.Nameservers {
			ip, err := netip.ParseAddr(strings.TrimSpace(s))
			if err != nil {
				warn("spec.dnsConfig.nameservers[%d]: %q is not an IP address; it is left out", i, s)
				continue
			}
			rc.Nameservers = append(rc.Nameservers, ip.String())
		}
		for i, s := range dc.Searches {
			d := strings.TrimSpace(s)
			if d != "." {
				d = strings.TrimSuffix(d, ".")
			}
			if d != "." {
				if msgs := validation.IsDNS1123Subdomain(d); len(msgs) > 0 {
					warn("spec.dnsConfig.searches[%d]: %q is not a DNS domain (%s); it is left out", i, s, strings.Join(msgs, "; "))
					continue
				}
			}
			rc.Searches = append(rc.Searches, d)
		}
		var opts []string
		for i, o := range dc.Options {
			switch {
			case o.Name == "":
				warn("spec.dnsConfig.options[%d]: an option needs a name; it is left out", i)
				continue
			case strings.ContainsAny(o.Name, " \t\r\n#;"):
				warn("spec.dnsConfig.options[%d]: option name %q holds a space, # or ;; it is left out", i, o.Name)
				continue
			case o.Value != nil && strings.ContainsAny(*o.Value, " \t\r\n#;"):
				warn("spec.dnsConfig.options[%d]: the value %q of option %s holds a space, # or ;; it is left out", i, *o.Value, o.Name)
				continue
			}
			opt := o.Name
			if o.Value != nil && *o.Value != "" {
				opt += ":" + *o.Value
			}
			opts = append(opts, opt)
		}
		rc.Options = mergeOptions(rc.Options, opts)
	}
	rc.Nameservers = omitDuplicates(rc.Nameservers)
	rc.Searches = omitDuplicates(rc.Searches)
	if policy == corev1.DNSNone && len(rc.Nameservers) == 0 {
		warn("spec.dnsPolicy is None but spec.dnsConfig gives no nameserver: the pod has none")
	}

	if len(rc.Nameservers) > maxDNSNameservers {
		rc.Nameservers = rc.Nameservers[:maxDNSNameservers]
		warn("nameserver limit (%d) exceeded: some nameservers are left out; the applied nameserver line is: %s",
			maxDNSNameservers, strings.Join(rc.Nameservers, " "))
	}
	var cut bool
	rc.Searches, cut = fitSearches(rc.Searches)
	if cut {
		warn("search line limits (%d domains of at most %d characters, %d characters in all) exceeded: some search domains are left out; the applied search line is: %s",
			maxDNSSearchPaths, maxDNSSearchPathLen, maxDNSSearchListChars, strings.Join(rc.Searches, " "))
	}
	return rc, probs
}

// fitSearches applies the search line's limits: the first 32 domains, without those longer
// than 253 characters, and then as many as fit in 2048 characters (separating spaces
// counted). cut says something was left out.
func fitSearches(searches []string) (_ []string, cut bool) {
	if len(searches) > maxDNSSearchPaths {
		searches, cut = searches[:maxDNSSearchPaths], true
	}
	out := make([]string, 0, len(searches))
	n := -1
	for _, s := range searches {
		if len(s) > maxDNSSearchPathLen {
			cut = true
			continue
		}
		if n+1+len(s) > maxDNSSearchListChars {
			cut = true
			break
		}
		n += 1 + len(s)
		out = append(out, s)
	}
	if len(out) == 0 {
		out = nil
	}
	return out, cut
}

// mergeOptions adds options to base: one whose name (the part before ':') base has replaces
// it in place; the others are appended in order.
func mergeOptions(base, options []string) []string {
	out := append([]string(nil), base...)
	at := map[string]int{}
	for i, o := range out {
		name, _, _ := strings.Cut(o, ":")
		at[name] = i
	}
	for _, o := range options {
		name, _, _ := strings.Cut(o, ":")
		if i, ok := at[name]; ok {
			out[i] = o
			continue
		}
		at[name] = len(out)
		out = append(out, o)
	}
	return out
}

func omitDuplicates(list []string) []string {
	seen := make(map[string]bool, len(list))
	out := list[:0:0]
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// podHostname returns a pod's hostname and domain as kubelet does: spec.hostname, else the
// pod's name cut to 63 characters (without a trailing '-' or '.'); the domain is
// <subdomain>.<ns>.svc.<clusterDomain> when spec.subdomain is set. uts is the name the pod's
// UTS namespace gets: the hostname, or the FQDN <hostname>.<domain> with setHostnameAsFQDN
// (when it fits the kernel's 64 characters). An invalid hostname or subdomain is left out
// with a problem.
func podHostname(pod *corev1.Pod, clusterDomain string) (hostname, domain, uts string, probs []problem) {
	hostname = pod.Name
	if len(hostname) > validation.DNS1123LabelMaxLength {
		hostname = strings.TrimRight(hostname[:validation.DNS1123LabelMaxLength], "-.")
	}
	if h := pod.Spec.Hostname; h != "" {
		if msgs := validation.IsDNS1123Label(h); len(msgs) > 0 {
			probs = append(probs, problem{reasonDNSConfigForming, fmt.Sprintf(
				"spec.hostname %q is not a DNS label (%s); the hostname is %q", h, strings.Join(msgs, "; "), hostname)})
		} else {
			hostname = h
		}
	}
	if sd := pod.Spec.Subdomain; sd != "" {
		if msgs := validation.IsDNS1123Label(sd); len(msgs) > 0 {
			probs = append(probs, problem{reasonDNSConfigForming, fmt.Sprintf(
				"spec.subdomain %q is not a DNS label (%s); the pod has no domain", sd, strings.Join(msgs, "; "))})
		} else if clusterDomain != "" {
			domain = sd + "." + pod.Namespace + ".svc." + clusterDomain
		}
	}
	uts = hostname
	if fqdn := pod.Spec.SetHostnameAsFQDN; fqdn != nil && *fqdn && domain != "" {
		full := hostname + "." + domain
		if len(full) > maxHostnameFQDNLen {
			probs = append(probs, problem{reasonDNSConfigForming, fmt.Sprintf(
				"setHostnameAsFQDN: the FQDN %q is too long (%d characters, at most %d); the hostname is %q",
				full, len(full), maxHostnameFQDNLen, hostname)})
		} else {
			uts = full
		}
	}
	return hostname, domain, uts, probs
}

// managedHostsHeader starts a hosts file the agent writes, as kubelet's does.
const managedHostsHeader = "# Kubernetes-managed hosts file.\n"

// podHostsFile is the content of a pod's /etc/hosts. A pod with its own network gets
// localhost, the IPv6 names, its address with its FQDN and hostname, and its
// spec.hostAliases; a hostNetwork pod gets the node's hosts file with the aliases after it.
// An alias whose IP or hostname is invalid is left out with a problem.
func podHostsFile(ip netip.Addr, hostname, domain string, aliases []corev1.HostAlias, hostNetwork bool, nodeHosts []byte) ([]byte, []problem) {
	var b strings.Builder
	if hostNetwork {
		b.Write(nodeHosts)
	} else {
		b.WriteString(managedHostsHeader)
		b.WriteString("127.0.0.1\tlocalhost\n")
		b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
		b.WriteString("fe00::0\tip6-localnet\n")
		b.WriteString("fe00::0\tip6-mcastprefix\n")
		b.WriteString("fe00::1\tip6-allnodes\n")
		b.WriteString("fe00::2\tip6-allrouters\n")
		if ip.IsValid() && hostname != "" {
			if domain != "" {
				fmt.Fprintf(&b, "%s\t%s.%s\t%s\n", ip, hostname, domain, hostname)
			} else {
				fmt.Fprintf(&b, "%s\t%s\n", ip, hostname)
			}
		}
	}
	var probs []problem
	var lines []string
	for i, a := range aliases {
		aip, err := netip.ParseAddr(strings.TrimSpace(a.IP))
		if err != nil {
			probs = append(probs, problem{reasonDNSConfigForming, fmt.Sprintf("spec.hostAliases[%d].ip: %q is not an IP address; the alias is left out", i, a.IP)})
			continue
		}
		var names []string
		for j, h := range a.Hostnames {
			if msgs := validation.IsDNS1123Subdomain(h); len(msgs) > 0 {
				probs = append(probs, problem{reasonDNSConfigForming, fmt.Sprintf("spec.hostAliases[%d].hostnames[%d]: %q is not a DNS name (%s); it is left out", i, j, h, strings.Join(msgs, "; "))})
				continue
			}
			names = append(names, h)
		}
		if len(names) > 0 {
			lines = append(lines, aip.String()+"\t"+strings.Join(names, "\t")+"\n")
		}
	}
	if len(lines) > 0 {
		if hostNetwork && b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
			b.WriteString("\n")
		}
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, l := range lines {
			b.WriteString(l)
		}
	}
	return []byte(b.String()), probs
}
