//go:build unix && !linux

package localcluster

import "syscall"

// sysProcAttr puts each component in its own process group (see the Linux
// version; other systems have no parent-death signal).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
