package backup

import (
	"testing"

	"github.com/fedcommons/fedcommons/internal/resources"
)

func TestPostgresClientImage(t *testing.T) {
	for in, want := range map[string]string{
		resources.PostgresImage:                       "docker.io/library/postgres:17-alpine",
		"postgres:16.4":                               "docker.io/library/postgres:16-alpine",
		"registry.local:5000/pg/postgres:15-bookworm": "docker.io/library/postgres:15-alpine",
		"postgres:latest":                             "",
		"postgres":                                    "",
		"registry.local:5000/postgres":                "",
		"postgres@sha256:abc":                         "",
	} {
		got, err := PostgresClientImage(in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("PostgresClientImage(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
