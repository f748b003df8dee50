package kubelet

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParseResolvConf(t *testing.T) {
	tests := []struct {
		name, in string
		want     resolvConf
	}{
		{"empty", "", resolvConf{}},
		{"comments and blank lines", "# c\n; c\n\n  \nnameserver 1.1.1.1\n", resolvConf{Nameservers: []string{"1.1.1.1"}}},
		{"nameservers add up", "nameserver 1.1.1.1\nnameserver 8.8.8.8 extra\nnameserver\n", resolvConf{Nameservers: []string{"1.1.1.1", "8.8.8.8"}}},
		{"last search wins, trailing dots dropped", "search a.example b.example\nsearch c.example. d.example\n",
			resolvConf{Searches: []string{"c.example", "d.example"}}},
		{"domain replaces search", "search a.example\ndomain corp.example other\n", resolvConf{Searches: []string{"corp.example"}}},
		{"search replaces domain", "domain corp.example\nsearch a.example\n", resolvConf{Searches: []string{"a.example"}}},
		{"options add up and override by name", "options ndots:2 edns0\noptions timeout:1 ndots:3\n",
			resolvConf{Options: []string{"ndots:3", "edns0", "timeout:1"}}},
		{"tabs and unknown keywords", "nameserver\t10.0.0.2\nsortlist 130.155.160.0\nsearch\tx.example\n",
			resolvConf{Nameservers: []string{"10.0.0.2"}, Searches: []string{"x.example"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseResolvConf([]byte(tt.in)); got.String() != tt.want.String() {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestResolvConfString(t *testing.T) {
	rc := resolvConf{Nameservers: []string{"10.96.0.10", "fd00::a"}, Searches: []string{"ns.svc.cluster.local", "svc.cluster.local"}, Options: []string{"ndots:5", "edns0"}}
	want := "search ns.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\nnameserver fd00::a\noptions ndots:5 edns0\n"
	if got := rc.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := (resolvConf{}).String(); got != "" {
		t.Errorf("an empty configuration renders as %q", got)
	}
	// What is rendered reads back the same.
	if got := parseResolvConf([]byte(want)).String(); got != want {
		t.Errorf("round trip: got\n%s", got)
	}
}

func TestPodResolvConf(t *testing.T) {
	host := &resolvConf{Nameservers: []string{"192.0.2.53", "192.0.2.54"}, Searches: []string{"corp.example", "example"}, Options: []string{"timeout:2", "ndots:1"}}
	clusterIP := []netip.Addr{netip.MustParseAddr("10.96.0.10")}
	node := nodeDNS{clusterDNS: clusterIP, domain: "cluster.local", host: host, nodeIP: netip.MustParseAddr("192.0.2.10")}
	noCluster := node
	noCluster.clusterDNS = nil
	noHost := node
	noHost.host = nil
	noHostV6 := noHost
	noHostV6.nodeIP = netip.MustParseAddr("2001:db8::10")
	noHostNoCluster := noHost
	noHostNoCluster.clusterDNS = nil

	const (
		clusterFirst = "search ns1.svc.cluster.local svc.cluster.local cluster.local corp.example example\nnameserver 10.96.0.10\noptions ndots:5\n"
		hostFile     = "search corp.example example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\noptions timeout:2 ndots:1\n"
	)
	long := func(n int, c byte) string { return strings.Repeat(string(c), n) }
	manySearches := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("d%d.example", i))
		}
		return out
	}
	// 69-character domains: n of them take 70n-1 characters, so 29 fit in 2048 and 30 do not,
	// well within the 32-domain limit.
	wideSearches := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("%s%02d.example", long(59, 'a'+byte(i%26)), i))
		}
		return out
	}

	tests := []struct {
		name        string
		spec        corev1.PodSpec
		node        nodeDNS
		want        string
		wantReasons []string // reasons of the problems, in order
		wantInMsg   string   // a substring of the problems' messages
	}{
		{name: "ClusterFirst", spec: corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst}, node: node, want: clusterFirst},
		{name: "empty policy is ClusterFirst", spec: corev1.PodSpec{}, node: node, want: clusterFirst},
		{name: "ClusterFirst with no host file searches the cluster only", spec: corev1.PodSpec{}, node: noHost,
			want: "search ns1.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"},
		{name: "ClusterFirst with two cluster DNS servers", spec: corev1.PodSpec{},
			node: nodeDNS{clusterDNS: []netip.Addr{netip.MustParseAddr("10.96.0.10"), netip.MustParseAddr("fd00::10")}, domain: "example.org"},
			want: "search ns1.svc.example.org svc.example.org example.org\nnameserver 10.96.0.10\nnameserver fd00::10\noptions ndots:5\n"},
		{name: "ClusterFirst host search repeating a cluster one is left out", spec: corev1.PodSpec{},
			node: nodeDNS{clusterDNS: clusterIP, domain: "cluster.local", host: &resolvConf{Searches: []string{"cluster.local", "corp.example"}}},
			want: "search ns1.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 10.96.0.10\noptions ndots:5\n"},
		{name: "ClusterFirst without cluster DNS falls back to Default", spec: corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst}, node: noCluster,
			want: hostFile, wantReasons: []string{reasonMissingClusterDNS}, wantInMsg: `falling back to "Default"`},
		{name: "ClusterFirst on the host network is Default", spec: corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst, HostNetwork: true}, node: node, want: hostFile},
		{name: "ClusterFirstWithHostNet on the host network", spec: corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirstWithHostNet, HostNetwork: true}, node: node, want: clusterFirst},
		{name: "ClusterFirstWithHostNet off the host network", spec: corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirstWithHostNet}, node: node, want: clusterFirst},
		{name: "ClusterFirstWithHostNet without cluster DNS", spec: corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirstWithHostNet, HostNetwork: true}, node: noCluster,
			want: hostFile, wantReasons: []string{reasonMissingClusterDNS}},
		{name: "Default", spec: corev1.PodSpec{DNSPolicy: corev1.DNSDefault}, node: node, want: hostFile},
		{name: "Default on the host network", spec: corev1.PodSpec{DNSPolicy: corev1.DNSDefault, HostNetwork: true}, node: node, want: hostFile},
		{name: "Default inheriting nothing gets the loopback", spec: corev1.PodSpec{DNSPolicy: corev1.DNSDefault}, node: noHost,
			want: "search .\nnameserver 127.0.0.1\n"},
		{name: "Default inheriting nothing on an IPv6 node", spec: corev1.PodSpec{DNSPolicy: corev1.DNSDefault}, node: noHostV6,
			want: "search .\nnameserver ::1\n"},
		{name: "ClusterFirst fallback inheriting nothing", spec: corev1.PodSpec{}, node: noHostNoCluster,
			want: "search .\nnameserver 127.0.0.1\n", wantReasons: []string{reasonMissingClusterDNS}},
		{name: "None is only dnsConfig", node: node,
			spec: corev1.PodSpec{DNSPolicy: corev1.DNSNone, DNSConfig: &corev1.PodDNSConfig{
				Nameservers: []string{"1.2.3.4"}, Searches: []string{"ns1.svc.cluster-domain.example", "my.dns.search.suffix"},
				Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr("2")}, {Name: "edns0"}}}},
			want: "search ns1.svc.cluster-domain.example my.dns.search.suffix\nnameserver 1.2.3.4\noptions ndots:2 edns0\n"},
		{name: "None without dnsConfig", spec: corev1.PodSpec{DNSPolicy: corev1.DNSNone}, node: node,
			want: "", wantReasons: []string{reasonDNSConfigForming}, wantInMsg: "no nameserver"},
		{name: "dnsConfig is appended to ClusterFirst, options override by name", node: node,
			spec: corev1.PodSpec{DNSConfig: &corev1.PodDNSConfig{
				Nameservers: []string{"10.96.0.10", "1.1.1.1"}, Searches: []string{"cluster.local.", "extra.example"},
				Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr("2")}, {Name: "single-request-reopen"}, {Name: "timeout", Value: ptr("")}}}},
			want: "search ns1.svc.cluster.local svc.cluster.local cluster.local corp.example example extra.example\nnameserver 10.96.0.10\nnameserver 1.1.1.1\noptions ndots:2 single-request-reopen timeout\n"},
		{name: "dnsConfig is appended to Default", node: node,
			spec: corev1.PodSpec{DNSPolicy: corev1.DNSDefault, DNSConfig: &corev1.PodDNSConfig{
				Nameservers: []string{"192.0.2.54", "2001:db8::53"}, Options: []corev1.PodDNSConfigOption{{Name: "timeout", Value: ptr("5")}}}},
			want: "search corp.example example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\nnameserver 2001:db8::53\noptions timeout:5 ndots:1\n"},
		{name: "more than three nameservers", node: node,
			spec:        corev1.PodSpec{DNSPolicy: corev1.DNSDefault, DNSConfig: &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1", "8.8.8.8"}}},
			want:        "search corp.example example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\nnameserver 1.1.1.1\noptions timeout:2 ndots:1\n",
			wantReasons: []string{reasonDNSConfigForming}, wantInMsg: "nameserver line is: 192.0.2.53 192.0.2.54 1.1.1.1"},
		{name: "more than 32 search domains", node: nodeDNS{clusterDNS: clusterIP},
			spec:        corev1.PodSpec{DNSConfig: &corev1.PodDNSConfig{Searches: manySearches(40)}},
			want:        "search " + strings.Join(manySearches(32), " ") + "\nnameserver 10.96.0.10\noptions ndots:5\n",
			wantReasons: []string{reasonDNSConfigForming}, wantInMsg: "search line limits"},
		{name: "search line over 2048 characters", node: nodeDNS{clusterDNS: clusterIP},
			spec:        corev1.PodSpec{DNSConfig: &corev1.PodDNSConfig{Searches: wideSearches(31)}},
			want:        "search " + strings.Join(wideSearches(29), " ") + "\nnameserver 10.96.0.10\noptions ndots:5\n",
			wantReasons: []string{reasonDNSConfigForming}},
		{name: "host search path over 253 characters is dropped", spec: corev1.PodSpec{DNSPolicy: corev1.DNSDefault},
			node: nodeDNS{host: &resolvConf{Nameservers: []string{"192.0.2.53"}, Searches: []string{long(254, 'x'), "ok.example"}}},
			want: "search ok.example\nnameserver 192.0.2.53\n", wantReasons: []string{reasonDNSConfigForming}},
		{name: "invalid dnsConfig entries are left out, the rest applies", node: node,
			spec: corev1.PodSpec{DNSPolicy: corev1.DNSNone, DNSConfig: &corev1.PodDNSConfig{
				Nameservers: []string{"not-an-ip", "1.2.3.4", ""},
				Searches:    []string{"Bad Domain", "good.example", "-bad.example", ".", long(300, 'y')},
				Options: []corev1.PodDNSConfigOption{{Name: ""}, {Name: "bad name"}, {Name: "ndots", Value: ptr("1 2")},
					{Name: "rotate"}, {Name: "evil\nnameserver", Value: ptr("6.6.6.6")}}}},
			want: "search good.example .\nnameserver 1.2.3.4\noptions rotate\n",
			wantReasons: []string{reasonDNSConfigForming, reasonDNSConfigForming, reasonDNSConfigForming, reasonDNSConfigForming,
				reasonDNSConfigForming, reasonDNSConfigForming, reasonDNSConfigForming, reasonDNSConfigForming, reasonDNSConfigForming},
			wantInMsg: "not-an-ip"},
		{name: "unknown policy is ClusterFirst", spec: corev1.PodSpec{DNSPolicy: "Bogus"}, node: node,
			want: clusterFirst, wantReasons: []string{reasonDNSConfigForming}, wantInMsg: `"Bogus"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns1"}, Spec: tt.spec}
			rc, probs := podResolvConf(pod, tt.node)
			if got := rc.String(); got != tt.want {
				t.Errorf("resolv.conf:\n%s\nwant:\n%s", got, tt.want)
			}
			var reasons, msgs []string
			for _, p := range probs {
				reasons = append(reasons, p.reason)
				msgs = append(msgs, p.message)
			}
			if strings.Join(reasons, ",") != strings.Join(tt.wantReasons, ",") {
				t.Errorf("problems %q, want reasons %v", msgs, tt.wantReasons)
			}
			if tt.wantInMsg != "" && !strings.Contains(strings.Join(msgs, "\n"), tt.wantInMsg) {
				t.Errorf("problems %q do not say %q", msgs, tt.wantInMsg)
			}
		})
	}
}

// The node's resolv.conf is not changed by a pod's dnsConfig (the host entry is shared by
// every pod's computation).
func TestPodResolvConfLeavesHostAlone(t *testing.T) {
	host := &resolvConf{Nameservers: []string{"192.0.2.53"}, Searches: []string{"corp.example"}, Options: []string{"ndots:1"}}
	before := host.String()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}, Spec: corev1.PodSpec{DNSPolicy: corev1.DNSDefault, DNSConfig: &corev1.PodDNSConfig{
		Nameservers: []string{"1.1.1.1"}, Searches: []string{"x.example"}, Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr("4")}}}}}
	podResolvConf(pod, nodeDNS{host: host})
	pod.Spec.DNSPolicy = corev1.DNSClusterFirst
	podResolvConf(pod, nodeDNS{host: host, clusterDNS: []netip.Addr{netip.MustParseAddr("10.96.0.10")}, domain: "cluster.local"})
	if host.String() != before {
		t.Errorf("the node's configuration changed to\n%s", host)
	}
}

func TestPodHostname(t *testing.T) {
	longName := strings.Repeat("a", 62) + "-b-c"
	tests := []struct {
		name             string
		pod              corev1.Pod
		hostname, domain string
		uts              string
		wantProblem      bool
	}{
		{name: "pod name", pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "ns"}}, hostname: "web-0", uts: "web-0"},
		{name: "long pod name is cut without a trailing dash", pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: longName, Namespace: "ns"}},
			hostname: strings.Repeat("a", 62), uts: strings.Repeat("a", 62)},
		{name: "spec.hostname", pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "ns"}, Spec: corev1.PodSpec{Hostname: "db"}},
			hostname: "db", uts: "db"},
		{name: "subdomain gives a domain", pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "ns"}, Spec: corev1.PodSpec{Subdomain: "web"}},
			hostname: "web-0", domain: "web.ns.svc.cluster.local", uts: "web-0"},
		{name: "setHostnameAsFQDN", pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "ns"},
			Spec: corev1.PodSpec{Hostname: "h", Subdomain: "web", SetHostnameAsFQDN: ptr(true)}},
			hostname: "h", domain: "web.ns.svc.cluster.local", uts: "h.web.ns.svc.cluster.local"},
		{name: "setHostnameAsFQDN without a subdomain", pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "ns"},
			Spec: corev1.PodSpec{SetHostnameAsFQDN: ptr(true)}}, hostname: "web-0", uts: "web-0"},
		{name: "FQDN too long keeps the hostname", pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "a-rather-long-namespace-name"},
			Spec: corev1.PodSpec{Hostname: "a-rather-long-hostname", Subdomain: "web", SetHostnameAsFQDN: ptr(true)}},
			hostname: "a-rather-long-hostname", domain: "web.a-rather-long-namespace-name.svc.cluster.local", uts: "a-rather-long-hostname", wantProblem: true},
		{name: "invalid spec.hostname", pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "ns"}, Spec: corev1.PodSpec{Hostname: "Not_A Label"}},
			hostname: "web-0", uts: "web-0", wantProblem: true},
		{name: "invalid subdomain", pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "ns"}, Spec: corev1.PodSpec{Subdomain: "a.b"}},
			hostname: "web-0", uts: "web-0", wantProblem: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, d, uts, probs := podHostname(&tt.pod, "cluster.local")
			if h != tt.hostname || d != tt.domain || uts != tt.uts {
				t.Errorf("got (%q, %q, %q), want (%q, %q, %q)", h, d, uts, tt.hostname, tt.domain, tt.uts)
			}
			if (len(probs) > 0) != tt.wantProblem {
				t.Errorf("problems %v, want some: %v", probs, tt.wantProblem)
			}
		})
	}
}

func TestPodHostsFile(t *testing.T) {
	const managed = managedHostsHeader + "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"
	ip := netip.MustParseAddr("10.88.0.7")
	nodeHosts := []byte("127.0.0.1 localhost\n192.0.2.10 node1")
	aliases := []corev1.HostAlias{{IP: "192.0.2.80", Hostnames: []string{"foo.local", "bar.local"}}, {IP: "2001:db8::1", Hostnames: []string{"v6.local"}}}
	tests := []struct {
		name             string
		ip               netip.Addr
		hostname, domain string
		aliases          []corev1.HostAlias
		hostNetwork      bool
		want             string
		problems         int
	}{
		{name: "pod", ip: ip, hostname: "web-0", want: managed + "10.88.0.7\tweb-0\n"},
		{name: "pod with a domain", ip: ip, hostname: "web-0", domain: "web.ns.svc.cluster.local",
			want: managed + "10.88.0.7\tweb-0.web.ns.svc.cluster.local\tweb-0\n"},
		{name: "pod without an address yet", hostname: "web-0", want: managed},
		{name: "pod with aliases", ip: ip, hostname: "web-0", aliases: aliases,
			want: managed + "10.88.0.7\tweb-0\n\n# Entries added by HostAliases.\n192.0.2.80\tfoo.local\tbar.local\n2001:db8::1\tv6.local\n"},
		{name: "hostNetwork gets the node's file", ip: ip, hostname: "web-0", hostNetwork: true, want: string(nodeHosts)},
		{name: "hostNetwork with aliases", ip: ip, hostname: "web-0", hostNetwork: true, aliases: aliases[:1],
			want: string(nodeHosts) + "\n\n# Entries added by HostAliases.\n192.0.2.80\tfoo.local\tbar.local\n"},
		{name: "invalid aliases are left out", ip: ip, hostname: "web-0",
			aliases: []corev1.HostAlias{{IP: "nope", Hostnames: []string{"a.local"}}, {IP: "192.0.2.81", Hostnames: []string{"bad name", "ok.local"}}, {IP: "192.0.2.82", Hostnames: []string{"x y"}}},
			want:    managed + "10.88.0.7\tweb-0\n\n# Entries added by HostAliases.\n192.0.2.81\tok.local\n", problems: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, probs := podHostsFile(tt.ip, tt.hostname, tt.domain, tt.aliases, tt.hostNetwork, nodeHosts)
			if string(got) != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
			if len(probs) != tt.problems {
				t.Errorf("problems %v, want %d", probs, tt.problems)
			}
		})
	}
}
