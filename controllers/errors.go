package controllers

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
)

// isNoMatch reports whether the API server does not serve the kind at all
// (its CRD is not installed).
func isNoMatch(err error) bool { return meta.IsNoMatchError(err) || discoveryNotFound(err) }

func discoveryNotFound(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no matches for kind")
}
