package devcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/controllers"
	"github.com/fedcommons/fedcommons/internal/localcluster"
	"github.com/fedcommons/fedcommons/internal/manager"
	"github.com/fedcommons/fedcommons/internal/outbound"
)

// Options configure Run.
type Options struct {
	// Dir holds the cluster's state, kubeconfig and logs (default ".demo").
	// Each run starts a fresh cluster in it.
	Dir string
	// APIServerPort is kube-apiserver's port on 127.0.0.1; 0 picks a free
	// one (the kubeconfig carries it).
	APIServerPort int
	// Exit returns as soon as everything is Ready instead of running
	// until ctx is cancelled.
	Exit bool
	// Timeout bounds the wait for Ready (default 5 minutes). With Exit,
	// Run fails naming what never became Ready; without, it says so and
	// keeps running.
	Timeout time.Duration
	// Out receives progress and the table.
	Out io.Writer
	// Terminal redraws the table in place every refresh; otherwise it is
	// printed only when it changes (logs, CI).
	Terminal bool
	// BinDir holds the control-plane binaries; empty: localcluster.BinDir
	// finds or builds them (with progress on Out).
	BinDir string
	// Refresh is the table's period (default 2s).
	Refresh time.Duration
	// Ready, when set, is called once with the first Snapshot in which
	// everything is Ready (tests inspect it).
	Ready func(Snapshot)
}

// Run starts the local cluster, the operator, the stand-ins, the fake
// servers and the demo's objects, shows their progress, and returns when
// ctx is cancelled (or, with Exit, once everything is Ready). Everything
// it started is stopped before it returns, whatever happened.
func Run(ctx context.Context, opts Options) (err error) {
	start := time.Now()
	if opts.Dir == "" {
		opts.Dir = ".demo"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	if opts.Refresh <= 0 {
		opts.Refresh = 2 * time.Second
	}
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	bin := opts.BinDir
	if bin == "" {
		if bin, err = localcluster.BinDir(ctx, out); err != nil {
			return fmt.Errorf("control-plane binaries: %w", err)
		}
	}

	fmt.Fprintf(out, "Starting a local control plane in %s ...\n", dir)
	// The cluster outlives ctx by a moment: on Ctrl-C the operator must
	// stop before the API server it talks to (see the deferred calls). So
	// ctx may abort Start, but after that only Stop ends the cluster.
	clusterCtx, cancelCluster := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCluster()
	stopAbort := context.AfterFunc(ctx, cancelCluster)
	// Backup pods stay Running under kwok: the backup stand-in runs them.
	volumes := filepath.Join(dir, "volumes")
	if err := os.RemoveAll(volumes); err != nil {
		return err
	}
	cluster, err := localcluster.Start(clusterCtx, localcluster.Options{BinDir: bin, DataDir: dir, APIServerPort: opts.APIServerPort, Out: out,
		LeaveRunning: map[string]string{v1alpha1.LabelComponent: "backup"}})
	stopAbort()
	if err != nil {
		// localcluster's errors name the component and, for a taken
		// port, what to do about it.
		return fmt.Errorf("start the local cluster: %w", err)
	}
	defer func() {
		fmt.Fprintln(out, "Stopping the local control plane ...")
		if stopErr := cluster.Stop(); stopErr != nil && err == nil {
			err = stopErr
		}
	}()
	fmt.Fprintf(out, "Control plane up in %s at %s\nKubeconfig: %s\n", cluster.StartupTime().Round(100*time.Millisecond), cluster.Endpoint(), cluster.KubeconfigPath())

	// The operator's and client-go's logs go to a file next to the
	// control plane's: the terminal belongs to the table.
	logPath := filepath.Join(cluster.LogDir(), "fedcommons.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	logger := zap.New(zap.WriteTo(logFile), zap.UseDevMode(false))
	ctrl.SetLogger(logger)
	klog.SetLogger(logger.WithName("client-go"))
	log := logger.WithName("dev")

	cfg := cluster.RESTConfig()
	scheme := manager.Scheme()
	utilruntime.Must(apiextensionsv1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "Installing CRDs (fedcommons, cert-manager, Gateway API), community roles, namespace fedcommons-system, ClusterIssuer letsencrypt ...")
	if err := installPlatform(ctx, c); err != nil {
		return err
	}

	gtsOAuth := goToSocialOAuthAvailable
	srv, err := startServers(gtsOAuth)
	if err != nil {
		return err
	}
	defer srv.close()

	feedAddr, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	mgr, err := manager.New(cfg, manager.Options{
		MetricsAddr:             "0",
		ProbeAddr:               "0",
		LeaderElection:          false,
		LeaderElectionNamespace: operatorNamespace,
		FeedPublicAddr:          "0",
		FeedClusterAddr:         feedAddr,
		Controllers: controllers.Options{
			OperatorNamespace:   operatorNamespace,
			SourceAllowPrefixes: loopbackOnly,
			// The demo's servers run in this process, on loopback: the
			// demo opens it as a co-op opens its own network
			// (--outbound-allow-cidrs). The shipped operator opens nothing.
			Outbound: outbound.Config{Allow: loopbackOnly},
			// The backup Jobs name the image their agent runs from; the
			// demo's stand-in for their kubelet runs the agent's code in
			// this process instead of pulling it.
			AgentImage: "ghcr.io/fedcommons/fedcommons:dev",
		},
	})
	if err != nil {
		return fmt.Errorf("build the operator: %w", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- mgr.Start(runCtx) }()
	var standIns sync.WaitGroup
	standIns.Go(func() { runStandIns(runCtx, c, log, volumes) })
	standIns.Go(func() { watchAdminSecrets(runCtx, c, srv.toot, srv.social) })
	// Stop the operator and the stand-ins before the cluster (deferred
	// earlier, so it runs later): they would log errors about a vanished
	// API server otherwise.
	defer func() {
		cancel()
		standIns.Wait()
		if mErr := <-mgrDone; mErr != nil && err == nil && !errors.Is(mErr, context.Canceled) {
			err = fmt.Errorf("operator: %w", mErr)
		}
	}()
	fmt.Fprintf(out, "Operator running in this process (logs: %s); stand-ins for cert-manager, a storage provisioner (volumes in %s) and the kubelet of backup pods running\n", logPath, volumes)

	objs, err := renderManifests(manifestData{
		SocialAPI: srv.social.Server.URL, TootAPI: srv.toot.Server.URL, TownURL: srv.town.Server.URL,
		TownToken: srv.townToken, BlocklistURL: srv.blocklistURL, GoToSocialOAuth: gtsOAuth,
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "Applying the demo: communities riverside and hillside, three servers, two federation policies ...")
	obs := &observer{c: c, feedURL: "http://" + feedAddr, fakes: srv.fakes(), http: &http.Client{Timeout: 5 * time.Second}}
	applyErr := make(chan error, 1)
	go func() { applyErr <- applyDemo(runCtx, c, objs, obs.setApplying) }()

	scene := &sceneLog{}
	return watch(ctx, watchArgs{
		opts: opts, out: out, start: start, obs: obs, cluster: cluster, mgrDone: mgrDone, applyErr: applyErr,
		footer: footer(cluster.KubeconfigPath(), logPath, "http://"+feedAddr, opts.Exit),
		scene:  scene,
		playScene: func() {
			var riverside []*fakeAPI
			for _, f := range []*fakeAPI{srv.social, srv.toot} {
				if f.SyncOff == "" {
					riverside = append(riverside, f)
				}
			}
			err := runReviewScene(runCtx, cfg, c, riverside, scene)
			if err == nil {
				err = runExportScene(runCtx, c, cfg.Host, dir, scene)
			}
			scene.finish(err)
		},
	})
}

type watchArgs struct {
	opts     Options
	out      io.Writer
	start    time.Time
	obs      *observer
	cluster  *localcluster.Cluster
	mgrDone  chan error
	applyErr chan error
	footer   string
	// scene is played once everything is Ready (playScene, in its own
	// goroutine) and shown under the table; with Exit, the demo ends when
	// it has.
	scene     *sceneLog
	playScene func()
}

// watch refreshes the table until everything is Ready (then returns with
// Exit) or ctx ends.
func watch(ctx context.Context, a watchArgs) error {
	deadline := time.NewTimer(a.opts.Timeout)
	defer deadline.Stop()
	tick := time.NewTicker(a.opts.Refresh)
	defer tick.Stop()
	var last Snapshot
	lastPlain := ""
	readyAt := time.Duration(0)
	timedOut := false
	for {
		snap, err := snapshot(ctx, a.obs)
		if err != nil && ctx.Err() == nil {
			fmt.Fprintf(a.out, "reading the cluster: %v\n", err)
		}
		if err == nil {
			last = snap
		}
		if readyAt == 0 && err == nil && snap.Ready() {
			readyAt = time.Since(a.start)
			if a.opts.Ready != nil {
				a.opts.Ready(snap)
			}
			go a.playScene()
		}
		elapsed := time.Since(a.start)
		if readyAt != 0 {
			elapsed = readyAt
		}
		frame := Render(last, elapsed)
		plain := Render(last, 0)
		sceneText, sceneDone, sceneErr := a.scene.text()
		if readyAt != 0 {
			frame += fmt.Sprintf("\nEverything was Ready %s after starting.\n", readyAt.Round(100*time.Millisecond)) + sceneText + a.footer
			plain += sceneText
		}
		switch {
		case a.opts.Terminal:
			// Home the cursor and clear the screen: a full redraw is simpler
			// than diffing lines and the table is small.
			fmt.Fprint(a.out, "\x1b[H\x1b[2J"+frame)
		case plain != lastPlain || (readyAt != 0 && !strings.Contains(lastPlain, "everything is Ready")):
			fmt.Fprintf(a.out, "\n[%s]\n%s", time.Since(a.start).Round(time.Second), frame)
		}
		lastPlain = plain
		if sceneDone && sceneErr != nil && a.opts.Exit {
			// The scene's failure is the demo's: the table alone would
			// hide that review does not work.
			return fmt.Errorf("the review scene: %w", sceneErr)
		}
		if readyAt != 0 && a.opts.Exit && sceneDone {
			return nil
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(a.out, "\nInterrupted: stopping the operator, the stand-ins and the control plane ...")
			return nil
		case <-a.cluster.Done():
			return fmt.Errorf("the local control plane stopped: %v (logs in %s)", a.cluster.Err(), a.cluster.LogDir())
		case err := <-a.mgrDone:
			a.mgrDone <- err // for Run's deferred wait
			return fmt.Errorf("the operator stopped: %v", err)
		case err := <-a.applyErr:
			if err != nil {
				return fmt.Errorf("apply the demo's objects: %w", err)
			}
		case <-deadline.C:
			if readyAt == 0 && !timedOut {
				timedOut = true
				msg := fmt.Sprintf("not Ready after %s:\n  %s", a.opts.Timeout, strings.Join(last.Pending(), "\n  "))
				if a.opts.Exit {
					return errors.New(msg)
				}
				fmt.Fprintf(a.out, "\n%s\n(still running; the operator's log is in %s)\n", msg, a.cluster.LogDir())
			}
		case <-tick.C:
		}
	}
}

// footer is what to do next. The feed URLs are those of the operator's
// cluster listener (see feeds.Paths), where every published policy of the
// demo is served.
func footer(kubeconfig, logPath, feedURL string, exit bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Feeds:      %s/ (what is served), %s/policies/ (the published policies)\n", feedURL, feedURL)
	fmt.Fprintf(&b, "Page:       %s/policies/riverside/shared-moderation (riverside's transparency page; .csv, .json, .txt for the feeds)\n", feedURL)
	fmt.Fprintf(&b, "Kubeconfig: %s\n", kubeconfig)
	fmt.Fprintf(&b, "Try:        kubectl --kubeconfig %s get instances,communities,federationpolicies -A\n", kubeconfig)
	fmt.Fprintf(&b, "Logs:       %s (operator), %s (control plane)\n", logPath, filepath.Dir(logPath))
	if !exit {
		b.WriteString("Press Ctrl-C to stop the cluster, the operator and the fake servers.\n")
	}
	return b.String()
}
