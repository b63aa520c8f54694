// Command fedcommons is the fedcommons operator and its user tools, the
// binary the operator image ships:
//
//	fedcommons manager   run the operator (in a cluster, or against any kubeconfig)
//	fedcommons policy    explain a domain's decision, or diff two versions of a policy, offline;
//	                     review, approve or reject changes waiting for approval, in a cluster
//	fedcommons community export or import a community, to move it to another co-op
//	fedcommons backup-agent  move a backup between a Job's volume and an S3 bucket
//	                     (run by the backup and restore Jobs, not by hand)
//	fedcommons version   print the version
//
// The demo (`make demo`) is cmd/fedcommons-dev, a command of its own so that
// its test rig (local control plane, fake admin APIs, stand-ins) is never
// linked here; TestShippedBinaryHasNoTestRig keeps it that way.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/fedcommons/fedcommons/internal/feeds"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `fedcommons — run many small fediverse servers and govern them together

Usage:
  fedcommons manager [flags]   run the operator
  fedcommons policy explain    why a domain is or is not blocked by a policy manifest
  fedcommons policy diff       what a change to a policy manifest changes, with why
  fedcommons policy review     the changes waiting for your community's approval
  fedcommons policy approve    approve (or reject) one of them
  fedcommons community export  write a community to a bundle, its secrets encrypted, to move it
  fedcommons community import  recreate a community from a bundle on this cluster
  fedcommons backup-agent      upload or download a backup (run by the backup Jobs)
  fedcommons version           print the version

Run "fedcommons <command> -h" for a command's flags. The demo (a local
control plane, the operator and the samples) is "make demo", or
"go run ./cmd/fedcommons-dev" from a checkout.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "manager":
		err = runManager(os.Args[2:])
	case "dev":
		// The demo moved out of the shipped binary; say where it went.
		fmt.Fprint(os.Stderr, "fedcommons: the demo is not part of this binary: run \"make demo\" or \"go run ./cmd/fedcommons-dev\" from a checkout\n")
		os.Exit(2)
	case "policy":
		err = runPolicy(os.Args[2:], os.Stdout)
	case "community":
		err = runCommunity(os.Args[2:], os.Stdout)
	case "backup-agent":
		err = runBackupAgent(os.Args[2:])
	case "version", "--version":
		fmt.Println(version)
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "fedcommons: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	os.Exit(exitCode(os.Args[1], err))
}

// exitCode is 0 when err is nil or a request for help (the usage was
// printed: asking for it is not a failure), else 1 after saying what failed.
func exitCode(command string, err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(os.Stderr, "fedcommons %s: %v\n", command, err)
	return 1
}

// managerUsage is `fedcommons manager --help`: the flags, then what the
// feed listeners serve.
func managerUsage(fs *flag.FlagSet) func() {
	return func() {
		out := fs.Output()
		fmt.Fprint(out, "Usage:\n  fedcommons manager [flags]\n\nRuns the operator. Flags:\n")
		fs.PrintDefaults()
		fmt.Fprint(out, "\nThe feed listeners (--feed-public-bind-address, --feed-cluster-bind-address) serve:\n"+feeds.Paths+
			"The public one serves policies published with visibility public; the cluster one\n"+
			"also those with visibility cluster, and names obfuscated domains in full in its feeds.\n")
	}
}
