package localcluster

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// checkPortFree fails with a message saying what to do when port is taken
// on 127.0.0.1.
func checkPortFree(port int) error {
	ln, err := net.Listen("tcp", hostPort(port))
	if err != nil {
		return fmt.Errorf("kube-apiserver port %d on %s is not available (%v): %w; "+
			"stop whatever listens there (another local cluster?), or choose another port, or 0 for a free one",
			port, loopback, err, errPortInUse)
	}
	return ln.Close()
}

// freePorts returns n distinct free ports on 127.0.0.1. The listeners are
// held until all are chosen so the ports differ. The ports come from below
// the kernel's ephemeral range when possible: ports from there (what
// listening on port 0 gives) are also handed out to every outgoing
// connection on the machine, so one could be taken before the component
// binds it. Another program can still take a port in that window; the
// component then exits with "address already in use" and Start tries again.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	low, high := portRange()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		addr := loopback + ":0"
		if high > low && tries < 50*n {
			addr = hostPort(low + rand.IntN(high-low))
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			if strings.HasSuffix(addr, ":0") {
				return nil, fmt.Errorf("finding a free port on %s: %w", loopback, err)
			}
			continue
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// portRange is where freePorts looks: from 10000 up to the start of the
// ephemeral range (Linux: /proc/sys/net/ipv4/ip_local_port_range, usually
// 32768). An empty range means "let the kernel choose".
func portRange() (low, high int) {
	high = 32768
	if data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(data)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil {
				high = v
			}
		}
	}
	return 10000, high
}
