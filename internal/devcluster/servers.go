package devcluster

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
)

// iftasDNI is an excerpt of IFTAS' "Do Not Interact" list in Mastodon's
// CSV export format, copied from internal/moderation/testdata/mastodon-dni.csv
// (itself from the public-domain sgrigson/oliphant mirror, commit ab9e4ab).
//
//go:embed testdata/iftas-dni.csv
var iftasDNI []byte

// fakeAPI is one in-process fake admin API standing for a server's
// moderation endpoints.
type fakeAPI struct {
	// Instance is namespace/name of the Instance it stands for.
	Instance string
	// Software is "Mastodon" or "GoToSocial".
	Software string
	Server   *fakeserver.Server
	// HandMade are the domains an admin blocked by hand before fedcommons
	// arrived: they must survive every sync.
	HandMade []string
	// SyncOff says why the operator does not push to it ("" when it does).
	SyncOff string
}

// servers are the demo's loopback HTTP servers.
type servers struct {
	social, toot, town *fakeAPI
	townToken          string
	blocklist          *http.Server
	blocklistURL       string
}

func (s *servers) fakes() []*fakeAPI { return []*fakeAPI{s.social, s.toot, s.town} }

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func startServers(gtsOAuth bool) (*servers, error) {
	s := &servers{townToken: randomToken()}
	// The hosted servers' fakes start with a token nobody has: the real
	// ones are minted by the operator later (watchTokens).
	s.social = &fakeAPI{Instance: "riverside/social", Software: "GoToSocial", Server: fakeserver.NewGoToSocial(fakeserver.Options{Token: randomToken()})}
	if !gtsOAuth {
		s.social.SyncOff = "sync off: this build cannot obtain a GoToSocial admin token (OAuth flow not landed)"
	}
	s.toot = &fakeAPI{Instance: "riverside/toot", Software: "Mastodon", Server: fakeserver.NewMastodon(fakeserver.Options{Token: randomToken()})}
	s.town = &fakeAPI{Instance: "hillside/town", Software: "Mastodon", Server: fakeserver.NewMastodon(fakeserver.Options{Token: s.townToken})}
	// Hillside's admins blocked these by hand, years ago: fedcommons lists
	// them as unmanaged and never touches them.
	for _, r := range []fakeserver.Record{
		{Domain: "oldgrudge.example", Severity: "silence", PublicComment: "blocked by hand in 2023", PrivateComment: "see the mod log"},
		{Domain: "cryptospam.example", Severity: "suspend", PublicComment: "spam"},
	} {
		s.town.Server.AddBlock(r)
		s.town.HandMade = append(s.town.HandMade, r.Domain)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.close()
		return nil, err
	}
	sum := sha256.Sum256(iftasDNI)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	mux := http.NewServeMux()
	mux.HandleFunc("GET /iftas-dni.csv", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		_, _ = w.Write(iftasDNI)
	})
	s.blocklist = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.blocklistURL = "http://" + ln.Addr().String() + "/iftas-dni.csv"
	go func() {
		if err := s.blocklist.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Println("blocklist server:", err)
		}
	}()
	return s, nil
}

func (s *servers) close() {
	for _, f := range s.fakes() {
		if f != nil {
			f.Server.Close()
		}
	}
	if s.blocklist != nil {
		_ = s.blocklist.Close()
	}
}

// watchAdminSecrets plays the part of the hosted servers' admin Jobs for
// their fake admin APIs: the hosted Mastodon's fake accepts the token the
// operator generated into Secret toot-admin, and the hosted GoToSocial's
// fake lets the admin sign in with the password generated into
// social-admin (the operator then obtains a token by OAuth). It polls
// briskly: a sync attempted before the fake knows the credentials fails
// and is retried only a minute later.
func watchAdminSecrets(ctx context.Context, c client.Reader, toot, social *fakeAPI) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var seenToken, seenPassword string
	for {
		sec := &corev1.Secret{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: "riverside", Name: "toot-admin"}, sec); err == nil {
			if tok := string(sec.Data["token"]); tok != "" && tok != seenToken {
				toot.Server.AcceptToken(tok)
				seenToken = tok
			}
		}
		sec = &corev1.Secret{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: "riverside", Name: "social-admin"}, sec); err == nil {
			if pw := string(sec.Data["password"]); pw != "" && pw != seenPassword {
				social.Server.SetAdminCredentials("admin@riverside.example", pw)
				seenPassword = pw
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// freeLoopbackAddr returns 127.0.0.1:port with a port free a moment ago,
// for a listener that takes an address rather than a net.Listener.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}
