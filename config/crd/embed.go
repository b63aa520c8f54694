// Package crd embeds the generated CustomResourceDefinitions so that the
// binary can install them (`fedcommons dev`) and tests can load them
// without depending on the working directory.
package crd

import "embed"

// Bases holds bases/*.yaml: one CRD per fedcommons kind.
//
//go:embed bases/*.yaml
var Bases embed.FS
