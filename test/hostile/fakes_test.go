package hostile

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
)

// The victim's fake admin servers run in a child process (this test
// binary, run again), so that the heap measured in this one is the
// operator's and not also that of servers holding 43,000 delivered
// entries. The child prints its servers' URLs and a control URL, answers
// GET <control>/state/<i> with server i's write count and entries, and
// exits when its standard input closes.

const fakesEnv = "FEDCOMMONS_HOSTILE_FAKE_SERVERS"

func TestMain(m *testing.M) {
	if n := os.Getenv(fakesEnv); n != "" {
		os.Exit(serveFakes(n))
	}
	os.Exit(m.Run())
}

type fakesInfo struct {
	Control string
	Servers []string
}

type fakeState struct {
	Writes int
	Blocks []fakeserver.Record
}

func serveFakes(n string) int {
	count, err := strconv.Atoi(n)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	info := fakesInfo{}
	servers := make([]*fakeserver.Server, count)
	for i := range servers {
		servers[i] = fakeserver.NewMastodon(fakeserver.Options{PageSize: 200})
		info.Servers = append(info.Servers, servers[i].URL)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /state/{i}", func(w http.ResponseWriter, r *http.Request) {
		i, err := strconv.Atoi(r.PathValue("i"))
		if err != nil || i < 0 || i >= count {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(fakeState{Writes: servers[i].Writes(), Blocks: servers[i].Blocks()})
	})
	ctl := httptest.NewServer(mux)
	info.Control = ctl.URL
	if err := json.NewEncoder(os.Stdout).Encode(info); err != nil {
		return 1
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// remoteFakes are the child's servers, seen from the test.
type remoteFakes struct {
	fakesInfo
}

// startFakes runs n fake Mastodon servers in a child process for the
// life of the test.
func startFakes(t *testing.T, n int) *remoteFakes {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), fakesEnv+"="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	r := &remoteFakes{}
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err != nil {
		t.Fatalf("fake servers: %v", err)
	}
	if err := json.Unmarshal(line, &r.fakesInfo); err != nil || len(r.Servers) != n {
		t.Fatalf("fake servers said %q (%v)", line, err)
	}
	return r
}

// state returns server i's write calls and the entries the operator put
// there, by domain.
func (r *remoteFakes) state(i int) (int, map[string]fakeserver.Record, error) {
	resp, err := http.Get(r.Control + "/state/" + strconv.Itoa(i))
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	var s fakeState
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return 0, nil, err
	}
	return s.Writes, managedOf(s.Blocks), nil
}

// managed returns the entries the operator put on a fake server, by domain.
func managed(srv *fakeserver.Server) map[string]fakeserver.Record { return managedOf(srv.Blocks()) }

func managedOf(blocks []fakeserver.Record) map[string]fakeserver.Record {
	out := map[string]fakeserver.Record{}
	for _, b := range blocks {
		if strings.HasPrefix(b.PrivateComment, drivers.Marker) {
			out[b.Domain] = b
		}
	}
	return out
}
