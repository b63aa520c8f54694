package localcluster

import (
	"context"
	corev1 "k8s.io/api/core/v1"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func testLayout() layout {
	return layout{
		BinDir:                "/bin/k8s",
		DataDir:               "/data",
		EtcdClientPort:        2379,
		EtcdPeerPort:          2380,
		APIServerPort:         6443,
		ControllerManagerPort: 10257,
		SchedulerPort:         10259,
		StageFiles:            []string{"/data/kwok-stages/node-fast.yaml", "/data/kwok-stages/pod-fast.yaml"},
	}
}

// TestClientRateArgs: ControllerQPS reaches kube-controller-manager and
// kube-scheduler as their client rate limit, and nothing is passed when it
// is 0, so that their defaults (a real cluster's) stay.
func TestClientRateArgs(t *testing.T) {
	l := testLayout()
	for _, args := range [][]string{l.controllerManagerArgs(), l.schedulerArgs()} {
		for _, a := range args {
			if strings.HasPrefix(a, "--kube-api-") {
				t.Errorf("ControllerQPS 0 passes %s", a)
			}
		}
	}
	l.ControllerQPS = 500
	for name, args := range map[string][]string{"kube-controller-manager": l.controllerManagerArgs(), "kube-scheduler": l.schedulerArgs()} {
		for _, w := range []string{"--kube-api-qps=500", "--kube-api-burst=1000"} {
			if !slices.Contains(args, w) {
				t.Errorf("%s: missing %s in %q", name, w, args)
			}
		}
	}
	for _, a := range l.kwokArgs() {
		if strings.HasPrefix(a, "--kube-api-") {
			t.Errorf("kwok has no such flag, got %s", a)
		}
	}
}

// TestControllerQPSBounds: a negative or absurd limit is refused before
// anything starts (no binaries are needed to get the error).
func TestControllerQPSBounds(t *testing.T) {
	for _, qps := range []int{-1, maxControllerQPS + 1} {
		_, err := Start(context.Background(), Options{BinDir: t.TempDir(), ControllerQPS: qps})
		if err == nil || !strings.Contains(err.Error(), "ControllerQPS must be between 0 and") {
			t.Errorf("ControllerQPS %d: got %v", qps, err)
		}
	}
}

func TestComponentArgs(t *testing.T) {
	l := testLayout()
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"etcd", l.etcdArgs(), []string{
			"--data-dir=/data/etcd",
			"--listen-client-urls=http://127.0.0.1:2379",
			"--advertise-client-urls=http://127.0.0.1:2379",
			"--listen-peer-urls=http://127.0.0.1:2380",
			"--initial-cluster=fedcommons=http://127.0.0.1:2380",
		}},
		{"kube-apiserver", l.apiServerArgs(), []string{
			"--etcd-servers=http://127.0.0.1:2379",
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			"--secure-port=6443",
			"--endpoint-reconciler-type=none",
			"--cert-dir=/data/pki/apiserver",
			"--tls-cert-file=/data/pki/serving.crt",
			"--tls-private-key-file=/data/pki/serving.key",
			"--client-ca-file=/data/pki/ca.crt",
			"--token-auth-file=/data/pki/tokens.csv",
			"--authorization-mode=RBAC",
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file=/data/pki/sa.pub",
			"--service-account-signing-key-file=/data/pki/sa.key",
			"--service-cluster-ip-range=10.96.0.0/12",
			"--disable-admission-plugins=TaintNodesByCondition",
		}},
		{"kube-controller-manager", l.controllerManagerArgs(), []string{
			"--kubeconfig=/data/pki/kube-controller-manager.kubeconfig",
			"--authentication-kubeconfig=/data/pki/kube-controller-manager.kubeconfig",
			"--authorization-kubeconfig=/data/pki/kube-controller-manager.kubeconfig",
			"--bind-address=127.0.0.1",
			"--secure-port=10257",
			"--controllers=*,-nodeipam,-nodelifecycle",
			"--leader-elect=false",
			"--use-service-account-credentials=true",
			"--service-account-private-key-file=/data/pki/sa.key",
			"--root-ca-file=/data/pki/ca.crt",
			"--cluster-signing-cert-file=/data/pki/ca.crt",
			"--cluster-signing-key-file=/data/pki/ca.key",
			"--resource-quota-sync-period=15s",
		}},
		{"kube-scheduler", l.schedulerArgs(), []string{
			"--kubeconfig=/data/pki/kube-scheduler.kubeconfig",
			"--bind-address=127.0.0.1",
			"--secure-port=10259",
			"--leader-elect=false",
		}},
		{"kwok", l.kwokArgs(), []string{
			"--kubeconfig=/data/kubeconfig",
			"--manage-all-nodes=false",
			"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
			"--node-ip=127.0.0.1",
			"--config=/data/kwok-stages/node-fast.yaml",
			"--config=/data/kwok-stages/pod-fast.yaml",
		}},
	}
	anyIP := regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, w := range tc.want {
				if !slices.Contains(tc.args, w) {
					t.Errorf("missing %s in %q", w, tc.args)
				}
			}
			seen := map[string]bool{}
			for _, a := range tc.args {
				if !strings.HasPrefix(a, "--") || !strings.Contains(a, "=") {
					t.Errorf("argument %q is not --flag=value", a)
				}
				name, value, _ := strings.Cut(a, "=")
				if seen[name] && name != "--config" {
					t.Errorf("flag %s given twice", name)
				}
				seen[name] = true
				// Loopback only: any address in a flag, other than the
				// service range and its first IP (never bound), is 127.0.0.1.
				if name == "--service-cluster-ip-range" {
					continue
				}
				for _, ip := range anyIP.FindAllString(value, -1) {
					if ip != loopback {
						t.Errorf("%s uses address %s", a, ip)
					}
				}
				if u, err := url.Parse(value); err == nil && u.Host != "" && u.Hostname() != loopback &&
					!strings.HasSuffix(u.Hostname(), ".svc.cluster.local") {
					t.Errorf("%s points at %s", a, u.Hostname())
				}
			}
		})
	}
}

func TestRenderTokenFile(t *testing.T) {
	tests := []struct {
		name    string
		ids     []identity
		want    string
		wantErr bool
	}{
		{
			name: "admin with group and components without",
			ids: []identity{
				{Token: "t1", User: "fedcommons-admin", Groups: []string{"system:masters"}},
				{Token: "t2", User: "system:kube-scheduler"},
			},
			want: "t1,fedcommons-admin,fedcommons-admin,\"system:masters\"\nt2,system:kube-scheduler,system:kube-scheduler\n",
		},
		{
			name: "several groups are quoted together",
			ids:  []identity{{Token: "t", User: "u", Groups: []string{"a", "b"}}},
			want: "t,u,u,\"a,b\"\n",
		},
		{name: "empty token", ids: []identity{{User: "u"}}, wantErr: true},
		{name: "comma in user", ids: []identity{{Token: "t", User: "a,b"}}, wantErr: true},
		{name: "quote in group", ids: []identity{{Token: "t", User: "u", Groups: []string{`x"`}}}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := renderTokenFile(tc.ids)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if string(got) != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNodeObject(t *testing.T) {
	for i, name := range []string{"kwok-node-0", "kwok-node-1"} {
		n := nodeObject(i)
		if n.Name != name {
			t.Errorf("name %q, want %q", n.Name, name)
		}
		if n.Annotations[kwokNodeAnnotationKey] != kwokNodeAnnotationValue {
			t.Errorf("%s: kwok annotation missing: %v", name, n.Annotations)
		}
		if len(n.Spec.Taints) != 0 || n.Spec.Unschedulable {
			t.Errorf("%s: must be schedulable without taints: %+v", name, n.Spec)
		}
		for res, want := range map[corev1.ResourceName]string{"cpu": "32", "memory": "256Gi", "pods": "110"} {
			if got := n.Status.Capacity.Name(res, ""); got.String() != want {
				t.Errorf("%s: capacity %s = %s, want %s", name, res, got, want)
			}
			if got := n.Status.Allocatable.Name(res, ""); got.String() != want {
				t.Errorf("%s: allocatable %s = %s, want %s", name, res, got, want)
			}
		}
	}
	// Each node gets its own copy of the capacity.
	a, b := nodeObject(0), nodeObject(1)
	a.Status.Capacity["cpu"] = a.Status.Capacity["pods"]
	if b.Status.Capacity.Cpu().String() != "32" || nodeCapacity.Cpu().String() != "32" {
		t.Error("nodes share their capacity map")
	}
}

// The audit log is on only when asked for (a benchmark), batched, in one
// file under the logs.
func TestAuditArgs(t *testing.T) {
	l := testLayout()
	for _, a := range l.apiServerArgs() {
		if strings.HasPrefix(a, "--audit-") {
			t.Errorf("audit flag %s without Audit", a)
		}
	}
	l.Audit = true
	args := l.apiServerArgs()
	for _, w := range []string{"--audit-policy-file=/data/audit-policy.yaml", "--audit-log-path=/data/logs/audit.log", "--audit-log-format=json", "--audit-log-mode=batch", "--audit-log-maxsize=0"} {
		if !slices.Contains(args, w) {
			t.Errorf("missing %s in %q", w, args)
		}
	}
	if got := l.userKubeconfig("system:serviceaccount:ns:sa"); got != "/data/pki/user-system_serviceaccount_ns_sa.kubeconfig" {
		t.Errorf("userKubeconfig = %s", got)
	}
}
