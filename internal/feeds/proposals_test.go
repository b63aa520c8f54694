package feeds

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// A pending change set is served to the cluster only, under its own name
// only: the public listener never reveals what a community is reviewing.
func TestProposalChangeSetServedToTheClusterOnly(t *testing.T) {
	store := NewMemoryStore()
	store.PutProposal("hillside", "shared", "shared-0123456789", []byte(`{"changes":[]}`))
	cluster := httptest.NewServer(NewServer(store, ClusterAudience, 0))
	defer cluster.Close()
	public := httptest.NewServer(NewServer(store, PublicAudience, 0))
	defer public.Close()
	get := func(base, path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	path := ProposalPath("hillside", "shared", "shared-0123456789")
	if code, body := get(cluster.URL, path); code != http.StatusOK || body != `{"changes":[]}` {
		t.Errorf("cluster: %d %q", code, body)
	}
	if code, _ := get(public.URL, path); code != http.StatusNotFound {
		t.Errorf("public: %d", code)
	}
	if code, _ := get(cluster.URL, ProposalPath("hillside", "shared", "shared-superseded")); code != http.StatusNotFound {
		t.Errorf("another proposal: %d", code)
	}
	store.PutProposal("hillside", "shared", "shared-newer", []byte(`{}`))
	if code, _ := get(cluster.URL, path); code != http.StatusNotFound {
		t.Errorf("a replaced proposal is still served: %d", code)
	}
	// The policy pages are unaffected.
	if code, _ := get(cluster.URL, "/policies/"); code != http.StatusOK {
		t.Errorf("index: %d", code)
	}
}
