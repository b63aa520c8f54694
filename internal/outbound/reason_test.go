package outbound

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestErrorMessage(t *testing.T) {
	long := `{"error":"` + strings.Repeat("word ", 200) + `"}`
	for _, tc := range []struct {
		name, body, want string
	}{
		{"mastodon", `{"error":"Validation failed: Domain has already been taken"}`, "Validation failed: Domain has already been taken"},
		{"oauth", `{"error":"invalid_grant","error_description":"The code has expired."}`, "invalid_grant: The code has expired."},
		{"html page", `<html><body><h1>502 Bad Gateway</h1></body></html>`, ""},
		{"plain text", "upstream connect error", ""},
		{"json without error", `{"id":"1"}`, ""},
		{"error not a string", `{"error":{"code":5}}`, ""},
		{"terminal escapes", "{\"error\":\"bad\\u001b[31m red\\u001b[0m\\r\\nX-Injected: 1\"}", "bad[31m red[0m X-Injected: 1"},
		{"markup", `{"error":"<script>alert(1)</script>"}`, "scriptalert(1)/script"},
		{"bidi override", "{\"error\":\"abc\\u202egpj.exe\"}", "abcgpj.exe"},
		{"echoed secret", `{"error":"bad token tok-SECRET"}`, "bad token [redacted]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ErrorMessage([]byte(tc.body), "tok-SECRET"); got != tc.want {
				t.Errorf("ErrorMessage(%q) = %q, want %q", tc.body, got, tc.want)
			}
		})
	}
	got := ErrorMessage([]byte(long))
	if n := utf8.RuneCountInString(got); n > MaxMessageRunes+1 || n < MaxMessageRunes-5 || !strings.HasSuffix(got, "…") {
		t.Errorf("a long message: %d runes %q", n, got)
	}
	if ErrorMessage([]byte(`{"error":"x`+strings.Repeat(" ", maxJSONError)+`"}`)) != "" {
		t.Error("a document above the parse bound was parsed")
	}
}

func TestShownURLClean(t *testing.T) {
	u, err := url.Parse("https://user:pw@b.example:8443/" + strings.Repeat("p", 500) + "\u202e")
	if err != nil {
		t.Fatal(err)
	}
	got := ShownURL(u)
	if strings.Contains(got, "pw") || strings.ContainsRune(got, '\u202e') || utf8.RuneCountInString(got) > maxShownURL+1 {
		t.Errorf("ShownURL = %q", got)
	}
	if o := Origin(u); o != "https://b.example:8443" {
		t.Errorf("Origin = %q", o)
	}
}
