// Package crd embeds the generated CustomResourceDefinitions so that the
// demo (`fedcommons-dev`) can install them and tests can load them
// without depending on the working directory.
package crd

import "embed"

// Bases holds bases/*.yaml: one CRD per fedcommons kind.
//
//go:embed bases/*.yaml
var Bases embed.FS
