//go:build scale

package scale

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"
)

// The API server's audit log, one JSON event a line, read back to count a
// user's requests by verb and resource in a time window. The audit log is
// the only place that says who sent a request: apiserver_request_total
// has no user label.

type auditEvent struct {
	Verb string `json:"verb"`
	User struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		APIGroup    string `json:"apiGroup"`
	} `json:"objectRef"`
	RequestURI string    `json:"requestURI"`
	Received   time.Time `json:"requestReceivedTimestamp"`
}

// resource is "deployments", "instances/status", or the request path for
// what names no object (discovery).
func (e auditEvent) resource() string {
	if e.ObjectRef == nil {
		return "(non-resource)"
	}
	r := e.ObjectRef.Resource
	if e.ObjectRef.Subresource != "" {
		r += "/" + e.ObjectRef.Subresource
	}
	return r
}

func (e auditEvent) write() bool {
	switch e.Verb {
	case "create", "update", "patch", "delete", "deletecollection", "apply":
		return true
	}
	return false
}

// readAudit returns the events of user received in [from, to).
func readAudit(path, user string, from, to time.Time) ([]auditEvent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []auditEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e auditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if e.User.Username != user || e.Received.Before(from) || !e.Received.Before(to) {
			continue
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// requestCount is how many requests of one verb on one resource.
type requestCount struct {
	Verb     string `json:"verb"`
	Resource string `json:"resource"`
	Count    int    `json:"count"`
}

// countRequests groups events by verb and resource, the most first.
func countRequests(events []auditEvent) []requestCount {
	m := map[[2]string]int{}
	for _, e := range events {
		m[[2]string{e.Verb, e.resource()}]++
	}
	out := make([]requestCount, 0, len(m))
	for k, n := range m {
		out = append(out, requestCount{Verb: k[0], Resource: k[1], Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Verb+out[i].Resource < out[j].Verb+out[j].Resource
	})
	return out
}

// writeExamples names up to n objects written, with their verb, so that
// a write in the steady state can be traced to what writes it.
func writeExamples(events []auditEvent, n int) []string {
	var out []string
	for _, e := range events {
		if !e.write() || len(out) >= n {
			continue
		}
		what := e.RequestURI
		if e.ObjectRef != nil {
			what = e.resource() + " " + e.ObjectRef.Namespace + "/" + e.ObjectRef.Name
		}
		out = append(out, e.Received.UTC().Format("15:04:05.000")+" "+e.Verb+" "+what)
	}
	return out
}

func countWrites(events []auditEvent) (writes, reads int) {
	for _, e := range events {
		if e.write() {
			writes++
		} else {
			reads++
		}
	}
	return writes, reads
}
