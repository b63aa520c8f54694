package localcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Options configure Start.
type Options struct {
	// BinDir holds etcd, kube-apiserver, kube-controller-manager,
	// kube-scheduler, kwok and kwok-stages/*.yaml (see BinDir).
	BinDir string
	// DataDir holds the cluster's state, certificates, kubeconfig and logs.
	// Empty: a temporary directory, removed by Stop. A given directory is
	// kept after Stop (for the logs); each Start begins a fresh cluster in
	// it, replacing the etcd data and certificates of a previous run.
	DataDir string
	// APIServerPort is kube-apiserver's port on 127.0.0.1; 0 picks a free
	// one. A fixed port that is taken fails Start at once.
	APIServerPort int
	// Nodes is the number of kwok nodes (default 1).
	Nodes int
	// LeaveRunning names, by one label and its value, the Job pods kwok
	// must not complete: they stay Running until someone else (a demo
	// stand-in that really runs them) writes their end. Empty: kwok
	// completes every Job pod at once.
	LeaveRunning map[string]string
	// Users are extra identities (static tokens) besides the admin, each
	// with its own kubeconfig (UserKubeconfig): a client that must be told
	// apart in the API server's audit log (the operator under a benchmark)
	// gets its own. At most 16.
	Users []User
	// AuditPolicy, when set, is an audit.k8s.io/v1 Policy (YAML): the API
	// server then writes its audit log, one JSON event a line, to
	// AuditLogPath. Batched, so auditing does not slow each request down.
	AuditPolicy []byte
	// ControllerQPS, when positive, is the client rate limit of
	// kube-controller-manager and kube-scheduler (their --kube-api-qps,
	// with a burst of twice that). Zero keeps their defaults, 20 and 50
	// requests a second (each controller of the controller-manager has
	// its own limit), as a real cluster has. A benchmark that measures a
	// client against the API server raises it: at 3,000 Instances the
	// deployment controller's default limit, not the API server, was
	// what the rollout waited for (a queue of 6,910 Deployments).
	ControllerQPS int
	// Out receives short progress lines; nil discards them. After Start
	// returns it is still written to (from another goroutine) when the
	// cluster stops or a component dies.
	Out io.Writer
}

// Cluster is a running local control plane.
type Cluster struct {
	l       layout
	tempDir bool
	out     io.Writer
	caPEM   []byte
	token   string            // the admin's bearer token
	users   map[string]string // extra user name → token
	procsMu sync.Mutex        // guards procs, which RestartAPIServer changes
	procs   []*process
	spawner *spawner

	startedAt time.Time
	startup   time.Duration

	stopping atomic.Bool
	stopOnce sync.Once
	stopErr  error
	stopCh   chan struct{} // closed when Stop begins

	failErr  error         // set (once) before done is closed
	done     chan struct{} // closed when a component dies or Stop completes
	doneOnce sync.Once
}

const (
	// stopGrace is how long a component gets to exit after SIGTERM.
	stopGrace = 10 * time.Second

	// Start-up bounds per phase. Generous: the machines this runs on are
	// small and shared, and a first start reads ~400 MB of binaries.
	etcdTimeout      = 60 * time.Second
	apiServerTimeout = 120 * time.Second
	componentTimeout = 120 * time.Second

	pollInterval = 200 * time.Millisecond
)

// Start starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler
// and kwok on 127.0.0.1, creates the kwok nodes and returns once the cluster
// can run Pods: the API server is ready, the controller-manager has created
// the default ServiceAccount, the scheduler is healthy and every node is
// Ready.
//
// The cluster lives until Stop is called or ctx is cancelled, whichever
// comes first. If Start fails (or ctx is cancelled during it), everything
// started so far is stopped before it returns.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	// Ports are picked free, then bound by the components a moment later;
	// on a shared machine something else can take one in between. That is
	// rare, so a start that failed on it is simply tried again.
	const attempts = 3
	for attempt := 1; ; attempt++ {
		c, err := start(ctx, opts)
		if err == nil || attempt == attempts || ctx.Err() != nil || !errors.Is(err, errAddressInUse) {
			return c, err
		}
		if opts.Out != nil {
			fmt.Fprintf(opts.Out, "a port was taken by another program during start-up; retrying with new ports\n")
		}
	}
}

func start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := &Cluster{
		out:       opts.Out,
		startedAt: time.Now(),
		stopCh:    make(chan struct{}),
		done:      make(chan struct{}),
	}
	if c.out == nil {
		c.out = io.Discard
	}
	nodes := opts.Nodes
	if nodes == 0 {
		nodes = 1
	}
	if nodes < 0 {
		return nil, fmt.Errorf("localcluster: Nodes must not be negative, got %d", nodes)
	}
	if opts.ControllerQPS < 0 || opts.ControllerQPS > maxControllerQPS {
		return nil, fmt.Errorf("localcluster: ControllerQPS must be between 0 and %d, got %d", maxControllerQPS, opts.ControllerQPS)
	}
	if err := checkBinDir(opts.BinDir); err != nil {
		return nil, fmt.Errorf("localcluster: %w", err)
	}
	stageSrc, err := stageSources(opts.BinDir)
	if err != nil {
		return nil, fmt.Errorf("localcluster: %w", err)
	}
	if len(opts.Users) > maxUsers {
		return nil, fmt.Errorf("localcluster: at most %d extra users, got %d", maxUsers, len(opts.Users))
	}
	if opts.APIServerPort < 0 || opts.APIServerPort > 65535 {
		return nil, fmt.Errorf("localcluster: APIServerPort %d out of range", opts.APIServerPort)
	}
	if opts.APIServerPort != 0 {
		// Checked before anything starts: a taken port would otherwise
		// surface as an API server crash deep in its log.
		if err := checkPortFree(opts.APIServerPort); err != nil {
			return nil, fmt.Errorf("localcluster: %w", err)
		}
	}

	dataDir := opts.DataDir
	if dataDir == "" {
		if dataDir, err = os.MkdirTemp("", "fedcommons-cluster-"); err != nil {
			return nil, fmt.Errorf("localcluster: %w", err)
		}
		c.tempDir = true
	} else {
		if dataDir, err = filepath.Abs(dataDir); err != nil {
			return nil, fmt.Errorf("localcluster: %w", err)
		}
	}
	c.l = layout{BinDir: opts.BinDir, DataDir: dataDir, ControllerQPS: opts.ControllerQPS}
	if c.l.BinDir, err = filepath.Abs(opts.BinDir); err != nil {
		return nil, fmt.Errorf("localcluster: %w", err)
	}

	defer func() {
		if err != nil {
			if stopErr := c.Stop(); stopErr != nil {
				err = errors.Join(err, stopErr)
			}
			err = fmt.Errorf("localcluster: starting: %w", err)
		}
	}()

	if err := c.prepareDataDir(stageSrc, opts.LeaveRunning); err != nil {
		return nil, err
	}
	if opts.AuditPolicy != nil {
		if err := os.WriteFile(c.l.auditPolicyPath(), opts.AuditPolicy, 0o600); err != nil {
			return nil, err
		}
		c.l.Audit = true
	}
	// All at once, so no two are the same.
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	c.l.EtcdClientPort, c.l.EtcdPeerPort, c.l.ControllerManagerPort, c.l.SchedulerPort = ports[0], ports[1], ports[2], ports[3]
	c.l.APIServerPort = opts.APIServerPort
	if c.l.APIServerPort == 0 {
		c.l.APIServerPort = ports[4]
	}
	if err := c.writeCredentials(opts.Users); err != nil {
		return nil, err
	}
	c.spawner = newSpawner()

	// etcd, then the API server: everything else talks to it.
	c.progress("starting etcd…")
	etcd, err := c.startComponent("etcd", c.l.etcdArgs())
	if err != nil {
		return nil, err
	}
	if err := c.waitFor(ctx, "etcd", etcdTimeout, []*process{etcd}, func(ctx context.Context) error {
		return c.httpCheck(ctx, c.l.etcdURL()+"/health", false)
	}); err != nil {
		return nil, err
	}
	c.progress("etcd ready on %s (%s)", c.l.etcdURL(), since(etcd.started))

	c.progress("starting kube-apiserver…")
	apiserver, err := c.startComponent("kube-apiserver", c.l.apiServerArgs())
	if err != nil {
		return nil, err
	}
	if err := c.waitFor(ctx, "kube-apiserver", apiServerTimeout, c.procs, func(ctx context.Context) error {
		return c.httpCheck(ctx, c.l.apiServerURL()+"/readyz", true)
	}); err != nil {
		return nil, err
	}
	c.progress("kube-apiserver ready on %s (%s)", c.l.apiServerURL(), since(apiserver.started))

	// The rest only need the API server; start them together.
	c.progress("starting kube-controller-manager, kube-scheduler and kwok…")
	kcm, err := c.startComponent("kube-controller-manager", c.l.controllerManagerArgs())
	if err != nil {
		return nil, err
	}
	sched, err := c.startComponent("kube-scheduler", c.l.schedulerArgs())
	if err != nil {
		return nil, err
	}
	kwok, err := c.startComponent("kwok", c.l.kwokArgs())
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		return nil, err
	}

	// The controller-manager is healthy and its controllers work: the
	// serviceaccount controller has created default/default (which every
	// Pod needs before the ServiceAccount admission plugin admits it).
	if err := c.waitFor(ctx, "kube-controller-manager", componentTimeout, c.procs, func(ctx context.Context) error {
		if err := c.httpCheck(ctx, "https://"+hostPort(c.l.ControllerManagerPort)+"/healthz", false); err != nil {
			return err
		}
		_, err := cs.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		return err
	}); err != nil {
		return nil, err
	}
	c.progress("kube-controller-manager ready (%s)", since(kcm.started))

	if err := c.waitFor(ctx, "kube-scheduler", componentTimeout, c.procs, func(ctx context.Context) error {
		return c.httpCheck(ctx, "https://"+hostPort(c.l.SchedulerPort)+"/healthz", false)
	}); err != nil {
		return nil, err
	}
	c.progress("kube-scheduler ready (%s)", since(sched.started))

	for i := range nodes {
		if _, err := cs.CoreV1().Nodes().Create(ctx, nodeObject(i), metav1.CreateOptions{}); err != nil {
			return nil, fmt.Errorf("creating kwok node: %w", err)
		}
	}
	if err := c.waitFor(ctx, fmt.Sprintf("%d kwok node(s) Ready", nodes), componentTimeout, c.procs, func(ctx context.Context) error {
		return nodesReady(ctx, cs, nodes)
	}); err != nil {
		return nil, err
	}
	c.progress("kwok ready: %d node(s) Ready (%s)", nodes, since(kwok.started))

	c.startup = time.Since(c.startedAt)
	c.progress("cluster ready in %s; kubeconfig: %s", c.startup.Round(100*time.Millisecond), c.KubeconfigPath())

	c.watch(ctx)
	return c, nil
}

// prepareDataDir creates the directory layout, clearing the state and
// certificates of a previous run in a user-given DataDir (only the
// directories this package owns), and writes kwok's stage files.
func (c *Cluster) prepareDataDir(stageSrc []string, leaveRunning map[string]string) error {
	for _, d := range []string{c.l.etcdDir(), filepath.Join(c.l.DataDir, "pki"), c.l.stageDir()} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	for _, d := range []string{c.l.DataDir, c.l.logDir(), filepath.Join(c.l.DataDir, "pki")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	stages, err := writeStages(stageSrc, c.l.stageDir(), leaveRunning)
	if err != nil {
		return err
	}
	c.l.StageFiles = stages
	return nil
}

// writeCredentials generates the CA, the serving certificate, the
// service-account key pair and the static tokens, and writes them with the
// kubeconfigs.
func (c *Cluster) writeCredentials(users []User) error {
	now := time.Now()
	ca, err := newCA("fedcommons-local-ca", now)
	if err != nil {
		return err
	}
	serving, err := newServingCert(ca, "kube-apiserver",
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		[]net.IP{net.ParseIP(loopback), net.ParseIP(kubernetesServiceIP)}, now)
	if err != nil {
		return err
	}
	saKey, saPub, err := newServiceAccountKey()
	if err != nil {
		return err
	}
	ids := []identity{
		// The admin: the user's kubeconfig, RESTConfig and kwok (which
		// updates node and pod status for every node it fakes).
		{User: "fedcommons-admin", Groups: []string{"system:masters"}},
		// The controller-manager and the scheduler authenticate as the
		// users the bootstrap RBAC policy already grants their roles to.
		{User: "system:kube-controller-manager"},
		{User: "system:kube-scheduler"},
	}
	for _, u := range users {
		ids = append(ids, identity{User: u.Name, Groups: u.Groups})
	}
	for i := range ids {
		if ids[i].Token, err = newToken(); err != nil {
			return err
		}
	}
	tokens, err := renderTokenFile(ids)
	if err != nil {
		return err
	}
	c.caPEM, c.token = ca.CertPEM, ids[0].Token
	c.users = map[string]string{}

	files := map[string][]byte{
		c.l.pki("ca.crt"):      ca.CertPEM,
		c.l.pki("ca.key"):      ca.KeyPEM,
		c.l.pki("serving.crt"): serving.CertPEM,
		c.l.pki("serving.key"): serving.KeyPEM,
		c.l.pki("sa.key"):      saKey,
		c.l.pki("sa.pub"):      saPub,
		c.l.pki("tokens.csv"):  tokens,
	}
	kubeconfigs := map[string]identity{
		c.l.adminKubeconfig():                              ids[0],
		c.l.componentKubeconfig("kube-controller-manager"): ids[1],
		c.l.componentKubeconfig("kube-scheduler"):          ids[2],
	}
	for path, id := range kubeconfigs {
		data, err := renderKubeconfig(c.l.apiServerURL(), ca.CertPEM, id.User, id.Token)
		if err != nil {
			return err
		}
		files[path] = data
	}
	for _, id := range ids[3:] {
		c.users[id.User] = id.Token
		data, err := renderKubeconfig(c.l.apiServerURL(), ca.CertPEM, id.User, id.Token)
		if err != nil {
			return err
		}
		files[c.l.userKubeconfig(id.User)] = data
	}
	for path, data := range files {
		// Keys, tokens and kubeconfigs are secrets: owner-only.
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) startComponent(name string, args []string) (*process, error) {
	p, err := startProcess(c.spawner, name, c.l.bin(name), args, filepath.Join(c.l.logDir(), name+".log"), false)
	if err != nil {
		return nil, err
	}
	c.procsMu.Lock()
	c.procs = append(c.procs, p)
	c.procsMu.Unlock()
	return p, nil
}

// waitFor polls check until it succeeds, failing early when one of procs
// exits (with the end of its log), when ctx ends, or after timeout (with
// check's last error).
func (c *Cluster) waitFor(ctx context.Context, what string, timeout time.Duration, procs []*process, check func(context.Context) error) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var last error
	for {
		for _, p := range procs {
			if p.exited() {
				return p.exitError()
			}
		}
		attemptCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		last = check(attemptCtx)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-deadline.C:
			var logs []string
			for _, p := range procs {
				logs = append(logs, fmt.Sprintf("last lines of %s:\n%s", p.logPath, indent(tailFile(p.logPath, 20))))
			}
			return fmt.Errorf("%s not ready after %s: %v\n%s", what, timeout, last, strings.Join(logs, "\n"))
		case <-tick.C:
		}
	}
}

// httpCheck GETs url, trusting our CA, and wants a 200. withToken sends the
// admin token (the API server's /readyz is not public before RBAC is
// bootstrapped); the controller-manager and scheduler always allow
// /healthz.
func (c *Cluster) httpCheck(ctx context.Context, url string, withToken bool) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if withToken {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

func (c *Cluster) httpClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.caPEM)
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		Proxy:             nil, // loopback only, never via a proxy
		DisableKeepAlives: true,
	}}
}

// watch stops the cluster when ctx ends, and records a component dying on
// its own so Done and Err report it.
func (c *Cluster) watch(ctx context.Context) {
	go func() {
		select {
		case <-ctx.Done():
			_ = c.Stop()
		case <-c.stopCh:
		}
	}()
	for _, p := range c.procs {
		c.watchProcess(p)
	}
}

// watchProcess records p dying on its own (not stopped by Stop, not
// replaced by a restart) as the cluster's failure.
func (c *Cluster) watchProcess(p *process) {
	go func() {
		<-p.done
		if c.stopping.Load() || p.replaced.Load() {
			return
		}
		c.doneOnce.Do(func() {
			c.failErr = p.exitError()
			c.progress("%v", c.failErr)
			close(c.done)
		})
	}()
}

// Stop terminates the components in reverse start order (SIGTERM, then
// SIGKILL after a grace period), waits for them to exit and removes a
// temporary DataDir. It is safe to call more than once and concurrently.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		c.stopping.Store(true)
		close(c.stopCh)
		var errs []error
		// Waits for a restart under way, so the process it starts is
		// stopped too.
		c.procsMu.Lock()
		procs := append([]*process(nil), c.procs...)
		c.procsMu.Unlock()
		for i := len(procs) - 1; i >= 0; i-- {
			p := procs[i]
			if !p.exited() {
				c.progress("stopping %s…", p.name)
			}
			// Also for a process that has exited: what it started may not have.
			if p.terminate(stopGrace) {
				c.progress("%s did not exit within %s of SIGTERM; killed", p.name, stopGrace)
			}
		}
		if c.spawner != nil {
			c.spawner.close()
		}
		if c.tempDir && c.l.DataDir != "" {
			if err := os.RemoveAll(c.l.DataDir); err != nil {
				errs = append(errs, fmt.Errorf("removing %s: %w", c.l.DataDir, err))
			}
		}
		c.stopErr = errors.Join(errs...)
		c.doneOnce.Do(func() { close(c.done) })
	})
	return c.stopErr
}

// Done is closed when the cluster has stopped: after Stop, or as soon as a
// component exits on its own (then Err says which and why; call Stop to
// stop the rest).
func (c *Cluster) Done() <-chan struct{} { return c.done }

// Err reports a component that exited on its own; nil while the cluster
// runs and after a normal Stop.
func (c *Cluster) Err() error {
	select {
	case <-c.done:
		return c.failErr
	default:
		return nil
	}
}

// RESTConfig returns a new client configuration for the cluster admin
// (group system:masters).
func (c *Cluster) RESTConfig() *rest.Config {
	return restConfig(c.l.apiServerURL(), c.caPEM, c.token)
}

// UserConfig returns a client configuration for one of Options.Users
// (nil for a name that is not one).
func (c *Cluster) UserConfig(name string) *rest.Config {
	token, ok := c.users[name]
	if !ok {
		return nil
	}
	return restConfig(c.l.apiServerURL(), c.caPEM, token)
}

// UserKubeconfig is a self-contained kubeconfig for one of Options.Users.
func (c *Cluster) UserKubeconfig(name string) string { return c.l.userKubeconfig(name) }

// AuditLogPath is where the API server writes its audit log (with
// Options.AuditPolicy).
func (c *Cluster) AuditLogPath() string { return c.l.auditLogPath() }

// KubeconfigPath is a kubeconfig for the cluster admin, self-contained, for
// `kubectl --kubeconfig` and the operator.
func (c *Cluster) KubeconfigPath() string { return c.l.adminKubeconfig() }

// Endpoint is the API server's URL, https://127.0.0.1:PORT.
func (c *Cluster) Endpoint() string { return c.l.apiServerURL() }

// LogDir holds one log file per component (etcd.log, kube-apiserver.log, …).
func (c *Cluster) LogDir() string { return c.l.logDir() }

// DataDir is the directory holding the cluster's state, certificates,
// kubeconfig and logs.
func (c *Cluster) DataDir() string { return c.l.DataDir }

// StartupTime is how long Start took.
func (c *Cluster) StartupTime() time.Duration { return c.startup }

func (c *Cluster) progress(format string, args ...any) {
	fmt.Fprintf(c.out, format+"\n", args...)
}

func since(t time.Time) string {
	return time.Since(t).Round(100 * time.Millisecond).String()
}
