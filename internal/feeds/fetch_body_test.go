package feeds

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestFetchValidatorsBounded: an ETag or Last-Modified that is too long,
// or not plain printable ASCII, is not kept: it would grow the saved state
// and be sent back on every fetch. (net/http's client already refuses a
// response with a control character in a header; validator refuses them
// too, since a saved state can come from elsewhere.)
func TestFetchValidatorsBounded(t *testing.T) {
	cases := map[string]struct{ etag, lm string }{
		"/ok":      {`"v1"`, "Tue, 03 Jan 2006 15:04:05 GMT"},
		"/long":    {`"` + strings.Repeat("e", MaxValidatorBytes) + `"`, strings.Repeat("x", MaxValidatorBytes+1)},
		"/unicode": {`"vé"`, "mardi"},
	}
	for _, v := range []string{"\"v\x7f\"", "a\x00b", "\tx", "\"é\""} {
		if validator(v) != "" {
			t.Errorf("validator(%q) kept", v)
		}
	}
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		c := cases[r.URL.Path]
		w.Header()["Etag"] = []string{c.etag}
		w.Header()["Last-Modified"] = []string{c.lm}
		_, _ = io.WriteString(w, "a.example\n")
	})
	f := &Fetcher{Allow: loopback}
	for path, c := range cases {
		resp, err := f.Fetch(context.Background(), s.URL+path, Validators{})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		want := Validators{}
		switch path {
		case "/ok":
			want = Validators{ETag: c.etag, LastModified: c.lm}
		case "/unicode":
			want = Validators{LastModified: c.lm}
		}
		if resp.Validators != want {
			t.Errorf("%s: kept %q / %q, want %+v", path, resp.ETag, resp.LastModified, want)
		}
	}
}

// TestFetchHeaderLimit: a response whose headers exceed MaxHeaderBytes is
// refused before its body is looked at (net/http would read 10 MiB).
func TestFetchHeaderLimit(t *testing.T) {
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Padding", strings.Repeat("p", MaxHeaderBytes))
		_, _ = io.WriteString(w, "a.example\n")
	})
	_, err := (&Fetcher{Allow: loopback}).Fetch(context.Background(), s.URL, Validators{})
	if err == nil || !strings.Contains(err.Error(), "headers exceeded") {
		t.Fatalf("error = %v", err)
	}
}

// TestFetchIntoStreams: FetchInto's reader gets the decoded body and fails
// at the limit, counted on decoded bytes; a failing body is reported as the
// fetch's own error whatever the reader made of it, and a reader refusing a
// body that arrived whole comes back as a *ReadError.
func TestFetchIntoStreams(t *testing.T) {
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	_, _ = zw.Write(bytes.Repeat([]byte("#\n"), 1<<20)) // 2 MiB, a few KB compressed
	_ = zw.Close()
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/bomb":
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(bomb.Bytes())
		default:
			_, _ = io.WriteString(w, "a.example\n")
		}
	})
	f := &Fetcher{Allow: loopback, MaxBytes: 1 << 20}
	var read int64
	_, err := f.FetchInto(context.Background(), s.URL+"/bomb", Validators{}, func(body io.Reader) error {
		n, err := io.Copy(io.Discard, body)
		read = n
		return errors.New("wrapped: " + err.Error())
	})
	var tl *TooLargeError
	if !errors.As(err, &tl) || read != 1<<20 {
		t.Fatalf("bomb: error %v after %d bytes, want a TooLargeError after exactly the limit", err, read)
	}
	if !strings.Contains(err.Error(), "after decompression (MaxBytes)") {
		t.Errorf("message %q does not say what was counted", err)
	}

	refused := errors.New("not a list")
	resp, err := f.FetchInto(context.Background(), s.URL+"/ok", Validators{}, func(body io.Reader) error { return refused })
	var re *ReadError
	if resp != nil || !errors.As(err, &re) || !errors.Is(err, refused) || !strings.HasSuffix(re.URL, "/ok") {
		t.Fatalf("read error: %v %v", resp, err)
	}

	var got []byte
	resp, err = f.FetchInto(context.Background(), s.URL+"/ok", Validators{}, func(body io.Reader) error {
		var err error
		got, err = io.ReadAll(body)
		return err
	})
	if err != nil || string(got) != "a.example\n" || resp.Body != nil {
		t.Fatalf("ok: %q %v %+v", got, err, resp)
	}
}

// TestReadBody: the body comes back whole and exact, whether its length
// was declared or not, in one chunk or many.
func TestReadBody(t *testing.T) {
	for _, n := range []int{0, 1, 4 << 10, 4<<10 + 1, 3*readChunk + 17} {
		data := bytes.Repeat([]byte("0123456789"), n/10+1)[:n]
		for _, size := range []int64{int64(n), -1} {
			got, err := readBody(bytes.NewReader(data), size)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%d bytes, declared %d: %d bytes back, %v", n, size, len(got), err)
			}
		}
	}
}

// TestFetchErrorsShowShortURLs: an error quotes at most maxShownURL bytes of
// the URL, so that the status condition, clipped, still says why.
func TestFetchErrorsShowShortURLs(t *testing.T) {
	s := serve(t, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	_, err := (&Fetcher{Allow: loopback}).Fetch(context.Background(), s.URL+"/"+strings.Repeat("p", 2000), Validators{})
	if err == nil || len(err.Error()) > maxShownURL+100 || !strings.Contains(err.Error(), "404") {
		t.Fatalf("error of %d bytes: %.300v", len(err.Error()), err)
	}
}
