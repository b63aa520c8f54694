package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/reviewcli"
)

const reviewUsage = `Usage:
  fedcommons policy review [-n NAMESPACE | --all] [--kubeconfig FILE] [--context NAME]
  fedcommons policy review NAME --changes [-n NAMESPACE]
  fedcommons policy approve NAME [-n NAMESPACE] [--comment TEXT]
  fedcommons policy reject NAME [-n NAMESPACE] [--comment TEXT]

A FederationPolicy with spec.review holds back the changes that need the
community's approval: the operator proposes them (a PolicyProposal) and
applies one only when enough moderators approve it.

  review   lists the proposals waiting for a decision: the policy, when,
           the approvals so far against those required, and each change
           (domain, before → after, and why). A proposal lists at most
           200 changes; with NAME --changes, every change of proposal
           NAME is printed, from the operator's saved state in the
           namespace's ConfigMaps (the moderator and admin roles may
           read them).
  approve  records your approval of proposal NAME: a PolicyApproval naming
           the change set you were shown. You are who the API server says
           you are; your comment is public.
  reject   records your rejection of it, the same way.

They use your kubeconfig as kubectl does ($KUBECONFIG, else ~/.kube/config).
`

// runReview is `policy review|approve|reject`: flags here, the rest in
// internal/reviewcli.
func runReview(verb string, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("policy "+verb, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), reviewUsage+"\nFlags:\n")
		fs.PrintDefaults()
	}
	var o reviewcli.Options
	fs.StringVar(&o.Namespace, "n", "", "namespace (default: the kubeconfig context's)")
	fs.StringVar(&o.Namespace, "namespace", "", "namespace (the same as -n)")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")
	fs.StringVar(&o.Context, "context", "", "kubeconfig context (default: its current context)")
	all := fs.Bool("all", false, "review: list the proposals of every namespace you may read")
	changes := fs.Bool("changes", false, fmt.Sprintf("review NAME: print every change of proposal NAME (%d lines at most)", reviewcli.MaxChangeLines))
	comment := fs.String("comment", "", fmt.Sprintf("approve, reject: a public comment, shown in the policy's history (%d bytes at most)", reviewcli.MaxComment))
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch {
	case verb == "review" && *changes && len(positional) != 1:
		return errors.New("--changes needs the NAME of one proposal: fedcommons policy review NAME --changes -n NAMESPACE")
	case verb == "review" && *changes && *all:
		return errors.New("--changes shows one proposal: give its NAME and -n NAMESPACE, not --all")
	case verb == "review" && !*changes && len(positional) > 0:
		fs.Usage()
		return errors.New("review takes no arguments (review NAME --changes prints every change of one proposal)")
	case verb != "review" && *changes:
		return fmt.Errorf("--changes goes with review; %s decides on one proposal", verb)
	case verb == "review" && *all && o.Namespace != "":
		return errors.New("give either -n NAMESPACE or --all")
	case verb == "review" && *comment != "":
		return errors.New("--comment goes with approve or reject")
	case verb != "review" && len(positional) != 1:
		fs.Usage()
		return fmt.Errorf("%s needs the NAME of one proposal (fedcommons policy review lists them)", verb)
	case verb != "review" && *all:
		return fmt.Errorf("--all goes with review; %s decides on one proposal", verb)
	}
	s, err := reviewcli.Connect(o)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if verb == "review" && *changes {
		return s.WriteChanges(ctx, stdout, positional[0])
	}
	if verb == "review" {
		pending, skipped, err := s.ListPending(ctx, *all)
		if err != nil {
			return err
		}
		reviewcli.WriteReview(stdout, pending, skipped, time.Now())
		return nil
	}
	decision := v1alpha1.DecisionApprove
	if verb == "reject" {
		decision = v1alpha1.DecisionReject
	}
	d, err := s.Decide(ctx, positional[0], decision, *comment)
	if err != nil {
		return err
	}
	reviewcli.WriteDecided(stdout, d)
	return nil
}
