package feeds

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

// chromium is Debian's package; the test is skipped without it.
const chromium = "/usr/bin/chromium"

// phonePolicy is a policy with what used to run off a phone's screen: long
// domains and comments, a full hash, obfuscation, every kind of decision.
func phonePolicy() Published {
	p := policy("riverside", "shared-moderation", VisibilityPublic)
	p.Hash = "sha256:" + strings.Repeat("0123456789abcdef", 4)
	p.Entries = append(p.Entries,
		PublishedEntry{Entry: moderation.Entry{Domain: "a-very-long-subdomain-name.of-a-server-with-a-long-name.example", Action: moderation.Silence, RejectMedia: true, RejectReports: true,
			PublicComment: "https://reports.example/incident/2026-11-03/coordinated-harassment-of-our-members-and-their-friends"}, Summary: "iftas-dni (1) + hillside (1) ≥ 2"},
		PublishedEntry{Entry: moderation.Entry{Domain: "bigmedia.example", Action: moderation.RejectMedia, RejectMedia: true, PublicComment: "hotlinked media without consent"}, Summary: "our own decision"},
		PublishedEntry{Entry: moderation.Entry{Domain: "friends.example", Action: moderation.Allow, PublicComment: "sister co-op"}, Summary: "our own decision"},
	)
	return p
}

// TestPageFitsAPhone renders the transparency page in a real headless
// browser at 400 px (a phone) and 1280 px (a desktop) and fails if the page
// is wider than the window: nothing may run off the edge. It saves
// screenshots of both (in $FEDCOMMONS_SCREENSHOTS, or a temporary
// directory) for people to look at. The page holds a reviewed policy's
// history, whose hostile comment must render as text, not run, even
// without the server's Content-Security-Policy.
func TestPageFitsAPhone(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Skip("no " + chromium + " (apt-get install chromium) to render the page in")
	}
	store := newStore(t, phonePolicy())
	store.SetHistory("riverside", "shared-moderation", phoneHistory())
	page := NewServer(store, PublicAudience, 0)
	real := httptest.NewServer(page)
	defer real.Close()
	// Headless Chromium makes no window narrower than 500 CSS pixels, so
	// the page is measured in an iframe of the width wanted (media queries
	// inside answer to the iframe's width, as on a phone). frame serves
	// the page at /inner/ without its headers (its CSP forbids framing)
	// and, at /frame/WIDTH/, a page framing it that writes the framed
	// document's widths into its own DOM once it has loaded.
	measured := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if inner, ok := strings.CutPrefix(r.URL.Path, "/inner"); ok {
			resp, err := http.Get(real.URL + inner)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.Copy(w, resp.Body)
			return
		}
		var width int
		var rest string
		if _, err := fmt.Sscanf(r.URL.Path, "/frame/%d/", &width); err != nil {
			http.NotFound(w, r)
			return
		}
		rest = strings.TrimPrefix(r.URL.Path, fmt.Sprintf("/frame/%d", width))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><html><body style="margin:0;background:#888">
<iframe id=f src="/inner%s" width=%d height=1800 style="border:0;display:block;background:#fff"
 onload="var d=this.contentDocument.documentElement;document.body.insertAdjacentHTML('beforeend','<p id=measure>scroll='+d.scrollWidth+' client='+d.clientWidth+'</p>')"></iframe>
</body></html>`, rest, width)
	}))
	defer measured.Close()

	dir := os.Getenv("FEDCOMMONS_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	path := "/policies/riverside/shared-moderation"
	for _, width := range []int{400, 1280} {
		framed := fmt.Sprintf("%s/frame/%d%s", measured.URL, width, path)
		dom := runChromium(t, width, "--dump-dom", framed)
		m := regexp.MustCompile(`scroll=(\d+) client=(\d+)`).FindStringSubmatch(dom)
		if m == nil {
			t.Fatalf("%d px: the measuring script did not run:\n%s", width, dom)
		}
		scroll, _ := strconv.Atoi(m[1])
		client, _ := strconv.Atoi(m[2])
		if client > width || client < width-40 {
			t.Errorf("%d px: the browser's viewport is %d px wide: the window size was not applied", width, client)
		}
		if scroll > client {
			t.Errorf("%d px: the page is %d px wide in a %d px viewport: it runs off the edge", width, scroll, client)
		}
		shot := filepath.Join(dir, fmt.Sprintf("transparency-page-%dpx.png", width))
		target := real.URL + path
		if width < minWindow {
			target = framed // the page at width px, on grey
		}
		runChromium(t, width, "--screenshot="+shot, target)
		if st, err := os.Stat(shot); err != nil || st.Size() == 0 {
			t.Errorf("%d px: no screenshot: %v", width, err)
		}
		t.Logf("%d px: page %d px wide in a %d px viewport; screenshot %s", width, scroll, client, shot)
	}

	// The page as the browser built it, served without its headers (no
	// CSP): the history is there, and the hostile comment is text.
	dom := runChromium(t, 1280, "--dump-dom", measured.URL+"/inner"+path)
	for _, want := range []string{"<h2>History</h2>", "Rejected by alice@riverside.example: <q>&lt;script&gt;document.title='pwned'&lt;/script&gt;&lt;img src=x"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the browser's page does not hold %q", want)
		}
	}
	if strings.Contains(dom, "data-pwned") || strings.Contains(dom, "<title>pwned") {
		t.Errorf("the hostile comment ran in the browser:\n%s", dom)
	}
}

// minWindow is the narrowest window headless Chromium makes.
const minWindow = 500

func runChromium(t *testing.T, width int, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--user-data-dir=" + t.TempDir(),
	}
	base = append(base, fmt.Sprintf("--window-size=%d,1800", max(width, minWindow)))
	cmd := exec.CommandContext(ctx, chromium, append(base, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}
