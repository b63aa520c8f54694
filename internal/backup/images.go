package backup

import (
	"fmt"
	"regexp"
	"strings"
)

// SQLiteImage runs the SQLite backup and restore: the software's own images
// have no sqlite3 (GoToSocial's is a single Go binary). An alpine-based
// image with the sqlite3 CLI, busybox's tar and sha256sum; it must be at
// least SQLite 3.27 (VACUUM INTO). Not yet pulled in a cluster test: the
// tag is to be checked when the controller wiring lands.
const SQLiteImage = "docker.io/keinos/sqlite3:3.47.2"

var postgresTag = regexp.MustCompile(`^([0-9]+)(\.[0-9]+)*(-.+)?$`)

// PostgresClientImage is the image pg_dump and pg_restore run from for a
// server running serverImage: the official postgres image of the same
// major version (alpine: small, and it defines the non-root user). pg_dump
// refuses a server newer than itself, and a dump from a newer pg_dump may
// not restore into an older server: the majors must match.
func PostgresClientImage(serverImage string) (string, error) {
	i := strings.LastIndex(serverImage, ":")
	if i < 0 || strings.Contains(serverImage[i:], "/") || strings.Contains(serverImage, "@") {
		return "", fmt.Errorf("cannot tell the PostgreSQL major version of image %q: it needs a tag such as postgres:17-alpine", serverImage)
	}
	m := postgresTag.FindStringSubmatch(serverImage[i+1:])
	if m == nil {
		return "", fmt.Errorf("cannot tell the PostgreSQL major version of image %q: its tag does not start with a version such as 17", serverImage)
	}
	return "docker.io/library/postgres:" + m[1] + "-alpine", nil
}
