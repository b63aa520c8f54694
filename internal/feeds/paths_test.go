package feeds

import (
	"strings"
	"testing"
)

// TestRootListsThePaths: / answers with what is served and a link to the
// policies, on both listeners, and every documented path answers.
func TestRootListsThePaths(t *testing.T) {
	pub, cl := listeners(t, newStore(t, policy("riverside", "open", VisibilityPublic)))
	for _, base := range []string{pub.URL, cl.URL} {
		resp, body := get(t, base+"/")
		if resp.StatusCode != 200 || !strings.Contains(body, `href="policies/"`) || !strings.Contains(body, "/policies/NAMESPACE/NAME.csv") {
			t.Fatalf("GET / = %d:\n%s", resp.StatusCode, body)
		}
		for _, line := range strings.Split(strings.TrimSpace(Paths), "\n") {
			path := strings.Fields(line)[0]
			path = strings.NewReplacer("NAMESPACE", "riverside", "NAME", "open").Replace(path)
			if resp, _ := get(t, base+path); resp.StatusCode != 200 {
				t.Errorf("documented path %s answers %d", path, resp.StatusCode)
			}
		}
	}
}
