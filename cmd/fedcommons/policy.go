package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/fedcommons/fedcommons/internal/feeds"
	"github.com/fedcommons/fedcommons/internal/policytool"
)

const policyUsage = `Usage:
  fedcommons policy explain [flags] -f MANIFEST [-f MANIFEST ...] DOMAIN ...
  fedcommons policy diff [flags] OLD-MANIFEST NEW-MANIFEST
  fedcommons policy fork [flags] URL-or-FILE > policy.yaml
  fedcommons policy review [-n NAMESPACE | --all]
  fedcommons policy approve|reject NAME [-n NAMESPACE] [--comment TEXT]

explain and diff compute a FederationPolicy the way the operator does, from
its manifest and without a cluster: url sources are fetched (with the
operator's limits), local entries and exceptions applied, and the domains of
any Instance in the manifests protected.

  explain  says why each DOMAIN is or is not blocked: the rule that decided,
           each source's word, and any refusal.
  diff     lists the domains whose effective entry a change to the policy
           adds, removes or changes, with why, e.g. to review a pull request.

  fork     copies a published policy (a feed URL or a file) into a
           FederationPolicy manifest of your own, each entry's origin kept
           in its private comment.

A policyRef source names a policy computed inside a cluster: give its
published feed with --source NAME=FILE, or it counts as listing nothing.

With a cluster (your kubeconfig, as kubectl uses it), for a policy whose
changes need the community's approval (spec.review):

  review   lists the proposals waiting for a decision, with their changes.
  approve  records your approval of one proposal.
  reject   records your rejection of one proposal.

Run "fedcommons policy VERB -h" for a verb's flags.
`

func runPolicy(args []string, stdout io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprint(stdout, policyUsage)
		return nil
	}
	if len(args) > 0 && (args[0] == "review" || args[0] == "approve" || args[0] == "reject") {
		return runReview(args[0], args[1:], stdout)
	}
	if len(args) > 0 && args[0] == "fork" {
		return runFork(args[1:], stdout)
	}
	if len(args) == 0 || (args[0] != "explain" && args[0] != "diff") {
		fmt.Fprint(os.Stderr, policyUsage)
		return errors.New("want explain, diff, fork, review, approve or reject")
	}
	verb := args[0]
	fs := flag.NewFlagSet("policy "+verb, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), policyUsage+"\nFlags:\n")
		fs.PrintDefaults()
	}
	var files, sources repeated
	fs.Var(&files, "f", "manifest file (YAML, several documents allowed); may be repeated (explain)")
	fs.Var(&sources, "source", "NAME=FILE: take source NAME from a local file instead of its url, or a policyRef's published feed; may be repeated")
	policyName := fs.String("policy", "", "the FederationPolicy to compute when the manifests hold several")
	offline := fs.Bool("offline", false, "do not fetch url sources (those without --source count as listing nothing)")
	allowCIDRs := fs.String("source-allow-cidrs", "", "comma-separated private address ranges that source URLs may reach (default none: only public addresses)")
	notes := fs.Bool("notes", true, "also say where each source's entries came from and what was refused")
	positional, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}

	allow, err := parsePrefixes("source-allow-cidrs", *allowCIDRs)
	if err != nil {
		return err
	}
	resolver := &policytool.Resolver{Files: map[string]string{}}
	if !*offline {
		resolver.Fetcher = &feeds.Fetcher{Allow: allow, Version: version}
	}
	for _, s := range sources {
		name, path, ok := strings.Cut(s, "=")
		if !ok || name == "" || path == "" {
			return fmt.Errorf("--source %q: want NAME=FILE", s)
		}
		resolver.Files[name] = path
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	switch verb {
	case "explain":
		if len(files) == 0 || len(positional) == 0 {
			fs.Usage()
			return errors.New("explain needs -f MANIFEST and at least one DOMAIN")
		}
		m, err := policytool.Load(files...)
		if err != nil {
			return err
		}
		p, err := m.Policy(*policyName)
		if err != nil {
			return err
		}
		c, err := resolver.Compute(ctx, p, m.Instances)
		if err != nil {
			return err
		}
		if err := policytool.WriteExplain(stdout, c, positional); err != nil {
			return err
		}
		if *notes {
			fmt.Fprintln(stdout)
			return policytool.WriteNotes(stdout, c)
		}
		return nil
	default: // diff
		if len(positional) != 2 {
			fs.Usage()
			return errors.New("diff needs OLD-MANIFEST and NEW-MANIFEST")
		}
		var computed [2]*policytool.Computed
		for i, path := range positional {
			m, err := policytool.Load(path)
			if err != nil {
				return err
			}
			p, err := m.Policy(*policyName)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if computed[i], err = resolver.Compute(ctx, p, m.Instances); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
		if err := policytool.WriteDiff(stdout, computed[0].Policy, computed[1].Policy); err != nil {
			return err
		}
		if *notes {
			fmt.Fprintln(stdout, "\nnew version:")
			return policytool.WriteNotes(stdout, computed[1])
		}
		return nil
	}
}
