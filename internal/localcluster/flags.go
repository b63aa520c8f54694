package localcluster

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

const (
	// loopback is the only address anything here binds to or connects to.
	loopback = "127.0.0.1"

	// serviceCIDR is the ClusterIP range. Nothing routes it (there is no
	// kube-proxy); it only has to be valid and not overlap kwok's pod CIDR
	// (10.0.0.0/24 by default).
	serviceCIDR = "10.96.0.0/12"
	// kubernetesServiceIP is the first address of serviceCIDR, the ClusterIP
	// of the default/kubernetes Service; the serving certificate names it.
	kubernetesServiceIP = "10.96.0.1"

	// serviceAccountIssuer is the iss claim of service-account tokens. It
	// should be an https URL for OIDC discovery; nobody fetches it here.
	serviceAccountIssuer = "https://kubernetes.default.svc.cluster.local"

	// kwokNodeAnnotation marks the nodes kwok manages; kwok is told to manage
	// only nodes carrying it, so a Node created by hand for another purpose
	// is left alone.
	kwokNodeAnnotationKey   = "kwok.x-k8s.io/node"
	kwokNodeAnnotationValue = "fake"
)

// layout is where everything of one cluster lives and which ports it uses.
// The flag builders are pure functions of it, so they are table-tested
// without starting anything.
type layout struct {
	BinDir  string
	DataDir string

	EtcdClientPort        int
	EtcdPeerPort          int
	APIServerPort         int
	ControllerManagerPort int
	SchedulerPort         int

	// StageFiles are the kwok Stage configs (normalised copies under DataDir).
	StageFiles []string

	// Audit turns on the API server's audit log (policy at auditPolicyPath).
	Audit bool

	// ControllerQPS is Options.ControllerQPS (0: the components' defaults).
	ControllerQPS int
}

// maxControllerQPS bounds Options.ControllerQPS: far above what one
// machine's API server answers, so it only rules out typing mistakes.
const maxControllerQPS = 100000

// clientRateArgs are the client rate-limit flags of kube-controller-manager
// and kube-scheduler for ControllerQPS, none when it is 0.
func (l layout) clientRateArgs() []string {
	if l.ControllerQPS <= 0 {
		return nil
	}
	return []string{
		"--kube-api-qps=" + strconv.Itoa(l.ControllerQPS),
		"--kube-api-burst=" + strconv.Itoa(2*l.ControllerQPS),
	}
}

// User is an extra identity of the static token file.
type User struct {
	Name   string
	Groups []string
}

// maxUsers bounds Options.Users.
const maxUsers = 16

func (l layout) bin(name string) string { return filepath.Join(l.BinDir, name) }
func (l layout) pki(name string) string { return filepath.Join(l.DataDir, "pki", name) }
func (l layout) logDir() string         { return filepath.Join(l.DataDir, "logs") }
func (l layout) etcdDir() string        { return filepath.Join(l.DataDir, "etcd") }
func (l layout) stageDir() string       { return filepath.Join(l.DataDir, "kwok-stages") }

// adminKubeconfig is the kubeconfig handed to the user (and used by kwok).
func (l layout) adminKubeconfig() string { return filepath.Join(l.DataDir, "kubeconfig") }

func (l layout) userKubeconfig(user string) string {
	// A user name may hold ':' (system:serviceaccount:ns:name).
	return filepath.Join(l.DataDir, "pki", "user-"+strings.NewReplacer(":", "_", "/", "_").Replace(user)+".kubeconfig")
}

func (l layout) auditPolicyPath() string { return filepath.Join(l.DataDir, "audit-policy.yaml") }
func (l layout) auditLogPath() string    { return filepath.Join(l.logDir(), "audit.log") }

func (l layout) componentKubeconfig(component string) string {
	return filepath.Join(l.DataDir, "pki", component+".kubeconfig")
}

func (l layout) etcdURL() string      { return "http://" + hostPort(l.EtcdClientPort) }
func (l layout) etcdPeerURL() string  { return "http://" + hostPort(l.EtcdPeerPort) }
func (l layout) apiServerURL() string { return "https://" + hostPort(l.APIServerPort) }

func hostPort(port int) string { return loopback + ":" + strconv.Itoa(port) }

func (l layout) etcdArgs() []string {
	return []string{
		"--name=fedcommons",
		"--data-dir=" + l.etcdDir(),
		"--listen-client-urls=" + l.etcdURL(),
		"--advertise-client-urls=" + l.etcdURL(),
		"--listen-peer-urls=" + l.etcdPeerURL(),
		"--initial-advertise-peer-urls=" + l.etcdPeerURL(),
		"--initial-cluster=fedcommons=" + l.etcdPeerURL(),
		"--initial-cluster-state=new",
		// A throw-away cluster does not need durable writes; skipping fsync
		// keeps etcd from stalling the API server on a busy, shared disk.
		"--unsafe-no-fsync=true",
		"--log-level=warn",
	}
}

func (l layout) apiServerArgs() []string {
	args := []string{
		"--etcd-servers=" + l.etcdURL(),
		"--bind-address=" + loopback,
		"--advertise-address=" + loopback,
		"--secure-port=" + strconv.Itoa(l.APIServerPort),
		// The default "lease" reconciler refuses a loopback advertise address
		// ("cannot use public IP 127.0.0.1 with endpoint reconciler"); with
		// no kubelets and no Pods to reach it, the default/kubernetes
		// Endpoints are not needed.
		"--endpoint-reconciler-type=none",
		// Without it, kube-apiserver writes self-signed certs to
		// /var/run/kubernetes.
		"--cert-dir=" + l.pki("apiserver"),
		"--tls-cert-file=" + l.pki("serving.crt"),
		"--tls-private-key-file=" + l.pki("serving.key"),
		"--client-ca-file=" + l.pki("ca.crt"),
		"--token-auth-file=" + l.pki("tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=" + serviceAccountIssuer,
		"--service-account-key-file=" + l.pki("sa.pub"),
		"--service-account-signing-key-file=" + l.pki("sa.key"),
		"--service-cluster-ip-range=" + serviceCIDR,
		// The TaintNodesByCondition admission plugin gives every new Node the
		// node.kubernetes.io/not-ready:NoSchedule taint; only the
		// node-lifecycle controller removes it, and that controller is off
		// (kwok nodes have no kubelet to post leases the way it expects).
		// Without the plugin, kwok nodes are schedulable once Ready.
		"--disable-admission-plugins=TaintNodesByCondition",
		"--allow-privileged=true",
	}
	if l.Audit {
		args = append(args,
			"--audit-policy-file="+l.auditPolicyPath(),
			"--audit-log-path="+l.auditLogPath(),
			"--audit-log-format=json",
			// Batched: the default (blocking) writes each event before the
			// request returns, which would slow what is being measured.
			"--audit-log-mode=batch",
			// One file for the whole run: rotation would split the counts.
			"--audit-log-maxsize=0",
		)
	}
	return args
}

func (l layout) controllerManagerArgs() []string {
	kubeconfig := l.componentKubeconfig("kube-controller-manager")
	return append([]string{
		"--kubeconfig=" + kubeconfig,
		// Delegated authn/authz for its own /healthz endpoint.
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=" + loopback,
		"--secure-port=" + strconv.Itoa(l.ControllerManagerPort),
		"--tls-cert-file=" + l.pki("serving.crt"),
		"--tls-private-key-file=" + l.pki("serving.key"),
		// nodeipam wants a cluster CIDR to carve up for kubelets;
		// nodelifecycle would mark kwok nodes NotReady and evict their Pods
		// whenever heartbeats lag. Neither is useful without kubelets.
		"--controllers=*,-nodeipam,-nodelifecycle",
		"--leader-elect=false",
		// Each controller acts as its own ServiceAccount in kube-system, as
		// in a real cluster, so RBAC mistakes show up here too.
		"--use-service-account-credentials=true",
		"--service-account-private-key-file=" + l.pki("sa.key"),
		// Published into every namespace as the kube-root-ca.crt ConfigMap.
		"--root-ca-file=" + l.pki("ca.crt"),
		// Lets CertificateSigningRequests be signed (the csrsigning
		// controller skips itself without a signer).
		"--cluster-signing-cert-file=" + l.pki("ca.crt"),
		"--cluster-signing-key-file=" + l.pki("ca.key"),
		// Quotas on a resource whose CRD appears after start-up (ours, in
		// the demo and e2e) get their usage only on the quota controller's
		// full resync: 5 minutes by default, too long for a dev cluster.
		"--resource-quota-sync-period=15s",
	}, l.clientRateArgs()...)
}

func (l layout) schedulerArgs() []string {
	kubeconfig := l.componentKubeconfig("kube-scheduler")
	// --kube-api-qps is deprecated for kube-scheduler in favour of its
	// config file's clientConnection, but still read when there is no
	// --config, as here.
	return append([]string{
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=" + loopback,
		"--secure-port=" + strconv.Itoa(l.SchedulerPort),
		"--tls-cert-file=" + l.pki("serving.crt"),
		"--tls-private-key-file=" + l.pki("serving.key"),
		"--leader-elect=false",
	}, l.clientRateArgs()...)
}

func (l layout) kwokArgs() []string {
	args := []string{
		"--kubeconfig=" + l.adminKubeconfig(),
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=" + kwokNodeAnnotationKey + "=" + kwokNodeAnnotationValue,
		// The node's InternalIP. kube-apiserver would dial it for logs/exec;
		// keeping it on loopback keeps any such attempt on this machine
		// (and the API server refuses to proxy to loopback anyway).
		"--node-ip=" + loopback,
	}
	for _, f := range l.StageFiles {
		args = append(args, "--config="+f)
	}
	return args
}

// identity is a user of the static token file.
type identity struct {
	Token  string
	User   string
	Groups []string
}

// renderTokenFile renders kube-apiserver's --token-auth-file: CSV lines of
// token,user,uid[,"group1,group2"].
func renderTokenFile(ids []identity) ([]byte, error) {
	var b strings.Builder
	for _, id := range ids {
		for _, field := range append([]string{id.Token, id.User}, id.Groups...) {
			if field == "" || strings.ContainsAny(field, ",\"\n\r") {
				return nil, fmt.Errorf("token file: invalid field %q for user %q", field, id.User)
			}
		}
		fmt.Fprintf(&b, "%s,%s,%s", id.Token, id.User, id.User)
		if len(id.Groups) > 0 {
			fmt.Fprintf(&b, ",%q", strings.Join(id.Groups, ","))
		}
		b.WriteByte('\n')
	}
	return []byte(b.String()), nil
}
