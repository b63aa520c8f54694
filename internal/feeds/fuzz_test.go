package feeds

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// FuzzTrackerLoad: a saved state is read back from a ConfigMap anyone with
// access could have edited. Loading must never panic, and whatever loads
// must survive a save and load unchanged.
func FuzzTrackerLoad(f *testing.F) {
	seed := NewTracker()
	seed.Observe("s", ok(list("a.example", "b.example"), `"1"`), DefaultRetraction)
	seed.Observe("s", ok(list("a.example"), `"2"`), Retraction{MinCleanFetches: 3, MaxShrinkPercent: 60})
	data, _ := json.Marshal(seed)
	saved, _ := seed.Save()
	f.Add(data)
	f.Add(saved)
	f.Add([]byte(`{"v":1,"sources":{"x":{"good":true,"pending":[{"d":"a","a":"silence","n":-4}],"needed":-1}}}`))
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := NewTracker()
		if err := tr.Load(data); err != nil {
			return
		}
		again, err := json.Marshal(tr)
		if err != nil {
			t.Fatal(err)
		}
		back := NewTracker()
		if err := back.Load(again); err != nil {
			t.Fatalf("cannot reload own output: %v\n%s", err, again)
		}
		for _, s := range tr.Sources() {
			if !reflect.DeepEqual(tr.Effective(s), back.Effective(s)) || tr.Status(s) != back.Status(s) {
				t.Fatalf("round trip changed %s", s)
			}
			// And a loaded state can go on being used.
			tr.Observe(s, ok(list("z.example"), ""), DefaultRetraction)
		}
	})
}

// FuzzServe: arbitrary paths and conditional headers never panic, never
// answer a policy the audience may not see, never leak a private comment.
func FuzzServe(f *testing.F) {
	store := leakyStore{}
	for _, p := range []Published{policy("riverside", "open", VisibilityPublic), policy("riverside", "members", VisibilityCluster), policy("riverside", "a.csv", VisibilityNone)} {
		store[p.Namespace+"/"+p.Name] = &p
	}
	pub := NewServer(store, PublicAudience, 0)
	f.Add("/policies/riverside/open.csv", `"x"`, "")
	f.Add("/policies/riverside/members", "*", "")
	f.Add("/policies/riverside/a.csv.html", `W/"a", "b"`, "Tue, 03 Nov 2026 10:30:00 GMT")
	f.Add("/policies/", "", "garbage")
	f.Fuzz(func(t *testing.T, path, inm, ims string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t?#") {
			return
		}
		if _, err := url.ParseRequestURI(path); err != nil {
			return
		}
		req := httptest.NewRequest(http.MethodGet, "http://feeds.test"+path, nil)
		req.Header["If-None-Match"] = []string{inm}
		req.Header["If-Modified-Since"] = []string{ims}
		rec := httptest.NewRecorder()
		pub.ServeHTTP(rec, req)
		body := rec.Body.String()
		if strings.Contains(body, secret) {
			t.Fatalf("%s leaked a private comment", path)
		}
		if rec.Code == http.StatusOK && (strings.Contains(body, "members") || strings.Contains(body, "loud.example") && !strings.Contains(path, "open")) {
			t.Fatalf("%s served something the public may not see:\n%s", path, body)
		}
	})
}
