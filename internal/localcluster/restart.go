package localcluster

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// RestartAPIServer stops kube-apiserver (SIGTERM, then SIGKILL after a
// grace period, as a node drain or an upgrade does) and starts it again
// with the same flags, port and certificates, then waits until it is ready
// again. etcd keeps running, so every object survives; clients see their
// connections and watches drop and requests refused until the new process
// listens. The other components keep running and reconnect by themselves.
//
// Fault suites use it for "the API server restarted mid-reconcile". Done
// and Err do not report the stopped process as a failure.
func (c *Cluster) RestartAPIServer(ctx context.Context) error {
	c.procsMu.Lock()
	defer c.procsMu.Unlock()
	if c.stopping.Load() {
		return errors.New("localcluster: RestartAPIServer: the cluster is stopping")
	}
	idx := -1
	for i, p := range c.procs {
		if p.name == "kube-apiserver" {
			idx = i
		}
	}
	if idx < 0 {
		return errors.New("localcluster: RestartAPIServer: no kube-apiserver")
	}
	old := c.procs[idx]
	old.replaced.Store(true)
	began := time.Now()
	c.progress("restarting kube-apiserver…")
	if old.terminate(stopGrace) {
		c.progress("kube-apiserver did not exit within %s of SIGTERM; killed", stopGrace)
	}
	p, err := startProcess(c.spawner, "kube-apiserver", c.l.bin("kube-apiserver"), c.l.apiServerArgs(),
		filepath.Join(c.l.logDir(), "kube-apiserver.log"), true)
	if err != nil {
		return fmt.Errorf("localcluster: RestartAPIServer: %w", err)
	}
	c.procs[idx] = p
	c.watchProcess(p)
	if err := c.waitFor(ctx, "restarted kube-apiserver", apiServerTimeout, []*process{p}, func(ctx context.Context) error {
		return c.httpCheck(ctx, c.l.apiServerURL()+"/readyz", true)
	}); err != nil {
		return fmt.Errorf("localcluster: RestartAPIServer: %w", err)
	}
	c.progress("kube-apiserver restarted and ready (%s)", since(began))
	return nil
}
