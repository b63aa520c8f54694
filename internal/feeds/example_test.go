package feeds_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/fedcommons/fedcommons/internal/feeds"
	"github.com/fedcommons/fedcommons/internal/moderation"
)

// The operator runs two listeners over one store: the public one behind
// the Ingress, the cluster one on a ClusterIP Service that only the
// cluster's pods may reach. A policy published to the cluster is served by
// the second only.
func ExampleNewServer() {
	store := feeds.NewMemoryStore()
	_ = store.Put(feeds.Published{
		Namespace: "riverside", Name: "shared-moderation", Community: "Riverside Commons",
		Visibility: feeds.VisibilityCluster, Hash: "sha256:0123", UpdatedAt: time.Now(),
		Entries: []feeds.PublishedEntry{{
			Entry:   moderation.Entry{Domain: "spam.example", Action: moderation.Suspend, PrivateComment: "ticket 41"},
			Summary: "our own decision",
		}},
	})
	public := feeds.NewServer(store, feeds.PublicAudience, 0)
	cluster := feeds.NewServer(store, feeds.ClusterAudience, 0)

	for _, h := range []http.Handler{public, cluster} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/policies/riverside/shared-moderation.txt", nil))
		fmt.Printf("%d %q\n", rec.Code, rec.Body.String())
	}
	// Output:
	// 404 "404 page not found\n"
	// 200 "spam.example\n"
}
