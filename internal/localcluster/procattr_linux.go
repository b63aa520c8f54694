package localcluster

import "syscall"

// sysProcAttr puts each component in its own process group, so a Ctrl-C in
// the terminal (delivered to the foreground group) reaches only our process,
// which then stops the components in order (kwok before the API server,
// the API server before etcd) instead of all dying at once; and Stop can
// signal the whole group, leaving no grandchildren behind.
//
// Pdeathsig kills a component when the thread that started it dies, which
// covers the cases where our process cannot clean up: SIGKILL, or a `go test`
// timeout panic that skips deferred calls. The kernel ties it to the thread,
// not the process, so all components are started from one goroutine locked
// to its thread for the cluster's lifetime (see spawner).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
