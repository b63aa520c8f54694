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

	"filippo.io/age"

	"github.com/fedcommons/fedcommons/internal/bundle"
	"github.com/fedcommons/fedcommons/internal/movecli"
	"github.com/fedcommons/fedcommons/internal/reviewcli"
)

const communityUsage = `Usage:
  fedcommons community export NAME -o BUNDLE.tar.gz --recipient age1... [--recipient ...]
  fedcommons community import BUNDLE.tar.gz --identity KEYFILE [--dry-run]
  fedcommons community show BUNDLE.tar.gz

Moving a community to another co-op (README: "Moving a community to
another co-op"):

  export  writes Community NAME, its Instances and FederationPolicies, the
          Secrets the operator generated for them (keys, passwords, admin
          tokens: encrypted with age to each --recipient, the new host's
          public key; never written in clear), the latest backup of each
          Instance and the trust relations with other communities.
  import  recreates them on this cluster: the Community, then the Secrets
          exactly as they were, then the Instances (each restoring from its
          latest backup), then the policies. It never overwrites: objects
          that exist and are identical are kept, any that differ stop the
          import before anything is created. --dry-run says what it would
          create (without --identity, the Secrets stay sealed).
  show    says what a bundle holds, without a cluster or a key.

export and import use your kubeconfig as kubectl does ($KUBECONFIG, else
~/.kube/config): a co-op sysadmin's, who may read Secrets and create
Communities.
`

func runCommunity(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, communityUsage)
		if len(args) == 0 {
			return errors.New("want export, import or show")
		}
		return nil
	}
	verb := args[0]
	fs := flag.NewFlagSet("community "+verb, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), communityUsage+"\nFlags:\n")
		fs.PrintDefaults()
	}
	var o reviewcli.Options
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")
	fs.StringVar(&o.Context, "context", "", "kubeconfig context (default: its current context)")
	var recipients repeated
	output := fs.String("o", "", "export: the bundle file to write (it must not exist)")
	fs.Var(&recipients, "recipient", "export: an age public key (age1...) to encrypt the secrets to; may be repeated")
	identity := fs.String("identity", "", "import: a file with the age private key (AGE-SECRET-KEY-1...) the secrets were encrypted to")
	dryRun := fs.Bool("dry-run", false, "import: say what would be created, create nothing")
	wait := fs.Duration("namespace-timeout", 2*time.Minute, "import: how long to wait for the operator to create the community's namespace, and for its new quota to be counted")
	positional, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		fs.Usage()
		if verb == "export" {
			return errors.New("export needs the NAME of one Community")
		}
		return fmt.Errorf("%s needs one BUNDLE file", verb)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	switch verb {
	case "export":
		return exportCommunity(ctx, o, positional[0], *output, recipients, stdout)
	case "import":
		return importCommunity(ctx, o, positional[0], *identity, *dryRun, *wait, stdout)
	case "show":
		b, err := readBundle(positional[0], nil)
		if err != nil {
			return err
		}
		movecli.WriteContents(stdout, b)
		return nil
	default:
		fmt.Fprint(os.Stderr, communityUsage)
		return fmt.Errorf("unknown verb %q: want export, import or show", verb)
	}
}

func exportCommunity(ctx context.Context, o reviewcli.Options, name, output string, keys []string, stdout io.Writer) error {
	// Refused before reading the kubeconfig: the sysadmin learns at once.
	if output == "" || len(keys) == 0 {
		return movecli.ExportFile(ctx, nil, "", name, output, keys, "", stdout)
	}
	s, err := reviewcli.Connect(o)
	if err != nil {
		return err
	}
	return movecli.ExportFile(ctx, s.Client, s.Server, name, output, keys, "fedcommons "+version, stdout)
}

func importCommunity(ctx context.Context, o reviewcli.Options, path, identity string, dryRun bool, wait time.Duration, stdout io.Writer) error {
	if identity == "" && !dryRun {
		return errors.New("give the age private key the bundle was encrypted to with --identity KEYFILE (or --dry-run to see what would be created)")
	}
	var ids []age.Identity
	if identity != "" {
		f, err := os.Open(identity)
		if err != nil {
			return fmt.Errorf("--identity: %w", err)
		}
		ids, err = age.ParseIdentities(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("--identity %s: not an age key file (want AGE-SECRET-KEY-1... as written by age-keygen): %v", identity, err)
		}
	}
	b, err := readBundle(path, ids)
	if err != nil {
		return err
	}
	s, err := reviewcli.Connect(o)
	if err != nil {
		return err
	}
	movecli.WriteContents(stdout, b)
	if err := movecli.Import(ctx, s.Client, s.Server, b, movecli.ImportOptions{DryRun: dryRun, NamespaceWait: wait}, stdout); err != nil {
		return err
	}
	return movecli.WriteToDo(ctx, s.Client, b, stdout)
}

func readBundle(path string, ids []age.Identity) (*bundle.Bundle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := bundle.Read(f, ids, bundle.DefaultLimits)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}
