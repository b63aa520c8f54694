package main

import "errors"

// runDev is filled by the local-cluster work (issue: make demo).
func runDev(args []string) error {
	return errors.New("the local development cluster is not wired yet: see the open `make demo` issue")
}
