package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/fedcommons/fedcommons/internal/feeds"
	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/policytool"
)

const forkUsage = `Usage:
  fedcommons policy fork [flags] URL-or-FILE > policy.yaml

fork copies another community's published policy, or any blocklist, into a
FederationPolicy manifest whose entries are your own decisions: you can then
edit, drop or keep each one, whatever the publisher later does. (To follow
the publisher instead, subscribe to the list as a source.)

Each entry keeps its action, flags and public comment; its private comment
says where it was copied from, when, and which copy (the feed's ETag or
Last-Modified, else the sha256 of what was read). Entries the operator would
refuse (public suffixes, malformed names) are left out and listed on stderr
with the reason. A list with more entries than a FederationPolicy holds
(5000) is refused. URLs are fetched with the operator's limits.

The format is --format, else the one the Content-Type or the extension names
(.csv Mastodon CSV, .json GoToSocial or Mastodon API JSON, .txt plain, as
the operator's feed server publishes them); stderr says which was used.

Apply the result with "kubectl apply --server-side -f policy.yaml" (a large
policy does not fit kubectl's client-side last-applied annotation).
`

func runFork(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("policy fork", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), forkUsage+"\nFlags:\n")
		fs.PrintDefaults()
	}
	format := fs.String("format", "", "format of the list: mastodon-csv, fediblockhole-csv, gotosocial-json, mastodon-api-json or plain (default: from the Content-Type or extension)")
	name := fs.String("name", "", "name of the FederationPolicy written (default: forked- and the list's file name)")
	namespace := fs.String("namespace", "", "namespace of the FederationPolicy written (default: none, kubectl's current one)")
	allowCIDRs := fs.String("source-allow-cidrs", "", "comma-separated private address ranges the URL may reach (default none: only public addresses)")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		fs.Usage()
		return errors.New("fork needs one URL or FILE")
	}
	opts := policytool.ForkOptions{Name: *name, Namespace: *namespace}
	if *format != "" {
		if opts.Format, err = moderation.ParseFormat(*format); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
	}
	if err := policytool.CheckNames(*name, *namespace); err != nil {
		return err
	}
	allow, err := parsePrefixes("source-allow-cidrs", *allowCIDRs)
	if err != nil {
		return err
	}
	opts.Fetcher = &feeds.Fetcher{Allow: allow, Version: version}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	forked, err := policytool.Fork(ctx, positional[0], opts)
	if err != nil {
		return err
	}
	if err := policytool.WriteForkReport(os.Stderr, forked); err != nil {
		return err
	}
	return policytool.WriteForkManifest(stdout, forked)
}
