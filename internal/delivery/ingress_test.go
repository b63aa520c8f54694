package delivery

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestAsIngress: requests to a hosted Instance's Service carry the Host and
// X-Forwarded-Proto its ingress would send; requests elsewhere (another
// server, a redirect) carry neither.
func TestAsIngress(t *testing.T) {
	type seen struct{ host, proto string }
	got := make(chan seen, 2)
	record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Host, r.Header.Get("X-Forwarded-Proto")}
	})
	svc := httptest.NewServer(record)
	defer svc.Close()
	other := httptest.NewServer(record)
	defer other.Close()

	hc := asIngress(nil, svc.URL, "social.riverside.example")
	for _, tt := range []struct {
		url  string
		want seen
	}{
		{svc.URL + "/api/v1/instance", seen{"social.riverside.example", "https"}},
		{other.URL + "/x", seen{other.Listener.Addr().String(), ""}},
	} {
		resp, err := hc.Get(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if s := <-got; s != tt.want {
			t.Errorf("GET %s reached the server as %+v, want %+v", tt.url, s, tt.want)
		}
	}
	if c := asIngress(http.DefaultClient, "https://old.example", ""); c != http.DefaultClient {
		t.Error("without a host, the client must be the one given")
	}
}
