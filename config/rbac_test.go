package config

// The operator's RBAC checked without a cluster: no wildcard, no way to
// escalate, sensitive grants only with a written reason, and
// docs/operator-rbac.md saying exactly what config/rbac grants. The envtest
// suites prove the other half: that nothing less would do (they run the
// manager as its ServiceAccount under these files).

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

const docPath = "../docs/operator-rbac.md"

// The roles the operator itself holds, by file.
var operatorRoleFiles = []string{"rbac/role.yaml", "rbac/leader_election_role.yaml", "rbac/metrics_auth_role.yaml"}

// sensitiveAllowed is every sensitive grant of the manager's ClusterRole
// (see sensitive), with why it cannot go. The table "Sensitive grants" of
// docs/operator-rbac.md must say the same, word for word.
var sensitiveAllowed = map[string]string{
	"secrets patch": "A generated Secret's owner reference and labels follow `deletionPolicy`, by apply with its UID as precondition; " +
		"a refused admin token is replaced by merge patch with an optimistic lock. Never its keys.",
	"secrets delete": "Never sent. Switching `deletionPolicy` to Delete (or adopting a retained Secret) puts an owner reference on an existing Secret, " +
		"which `OwnerReferencesPermissionEnforcement` allows only with `delete`.",
	"roles create": "Only the restore Job's Role: `get` on the Instance's carried Secrets by name and `create` on Secrets, in the Instance's namespace.",
	"roles patch":  "The same Role, applied; emptied once the restore has succeeded.",
	"rolebindings create": "A Community member's binding in the community's namespace, to one of the three community roles only (bind is granted on those names alone); " +
		"the restore ServiceAccount's binding to its own Role.",
	"rolebindings patch":  "The same binding, kept as the Community says by apply.",
	"rolebindings delete": "A member removed from a Community, or whose role changed (`roleRef` is immutable), loses their binding.",
	"namespaces delete":   "An empty Community's namespace, only when the operator created it (annotation and label checked).",
	"clusterroles bind":   "Only fedcommons-community-admin, fedcommons-community-moderator and fedcommons-community-viewer, by name.",
}

// sensitive reports whether a verb on a resource could give away or
// destroy what belongs to another tenant or to the cluster.
func sensitive(group, resource, verb string) bool {
	switch {
	case group == "" && resource == "secrets":
		return verb == "update" || verb == "patch" || verb == "delete"
	case group == rbacv1.GroupName && (resource == "rolebindings" || resource == "clusterrolebindings" || resource == "roles" || resource == "clusterroles"):
		return verb != "get" && verb != "list" && verb != "watch"
	case group == "" && resource == "namespaces":
		return verb == "delete"
	}
	return verb == "bind"
}

type role struct {
	file, kind, name string
	rules            []rbacv1.PolicyRule
}

func loadRoles(t *testing.T, file string) []role {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []role
	for {
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Rules []rbacv1.PolicyRule `json:"rules"`
		}
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if obj.Kind == "Role" || obj.Kind == "ClusterRole" {
			out = append(out, role{file: file, kind: obj.Kind, name: obj.Metadata.Name, rules: obj.Rules})
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s holds no Role or ClusterRole", file)
	}
	return out
}

// grants expands rules into one set of verbs per (group, resource, names).
func grants(rules []rbacv1.PolicyRule) map[string][]string {
	out := map[string][]string{}
	for _, r := range rules {
		names := append([]string(nil), r.ResourceNames...)
		sort.Strings(names)
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				key := grantKey(g, res, names)
				for _, v := range r.Verbs {
					if !slices.Contains(out[key], v) {
						out[key] = append(out[key], v)
					}
				}
				sort.Strings(out[key])
			}
		}
	}
	return out
}

func grantKey(group, resource string, names []string) string {
	if group == "" {
		group = "core"
	}
	k := group + " " + resource
	if len(names) > 0 {
		k += ": " + strings.Join(names, ", ")
	}
	return k
}

func allRoles(t *testing.T) []role {
	var roles []role
	for _, f := range append(operatorRoleFiles, "rbac/community_roles.yaml") {
		roles = append(roles, loadRoles(t, f)...)
	}
	return roles
}

func TestRBACHasNoWildcardAndNoEscalation(t *testing.T) {
	communityRoles := map[string]bool{}
	for _, r := range loadRoles(t, "rbac/community_roles.yaml") {
		communityRoles[r.name] = true
	}
	if len(communityRoles) != 3 {
		t.Fatalf("community_roles.yaml: %d roles, want admin, moderator and viewer", len(communityRoles))
	}
	for _, ro := range allRoles(t) {
		for i, r := range ro.rules {
			where := fmt.Sprintf("%s %s %s rule %d", ro.file, ro.kind, ro.name, i)
			for field, values := range map[string][]string{
				"apiGroups": r.APIGroups, "resources": r.Resources, "verbs": r.Verbs,
				"resourceNames": r.ResourceNames, "nonResourceURLs": r.NonResourceURLs,
			} {
				for _, v := range values {
					if strings.Contains(v, "*") {
						t.Errorf("%s: wildcard %q in %s", where, v, field)
					}
				}
			}
			for _, v := range r.Verbs {
				switch v {
				case "escalate", "impersonate":
					t.Errorf("%s: verb %s lets the holder take permissions it was not given", where, v)
				case "bind":
					// Binding is how the operator gives members their
					// community role; only those roles, only by name.
					ok := ro.file == "rbac/role.yaml" && slices.Equal(r.APIGroups, []string{rbacv1.GroupName}) &&
						slices.Equal(r.Resources, []string{"clusterroles"}) && len(r.ResourceNames) > 0
					for _, n := range r.ResourceNames {
						ok = ok && communityRoles[n]
					}
					if !ok {
						t.Errorf("%s: bind is allowed only on the community ClusterRoles by name, got %v %v %v", where, r.APIGroups, r.Resources, r.ResourceNames)
					}
				}
			}
		}
	}
}

func TestSensitiveGrantsAreTheAllowlist(t *testing.T) {
	found := map[string]bool{}
	for _, r := range loadRoles(t, "rbac/role.yaml")[0].rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					if sensitive(g, res, v) {
						found[res+" "+v] = true
					}
				}
			}
		}
	}
	for k := range found {
		if _, ok := sensitiveAllowed[k]; !ok {
			t.Errorf("role.yaml grants %q cluster-wide with no reason in sensitiveAllowed and %s", k, docPath)
		}
	}
	for k := range sensitiveAllowed {
		if !found[k] {
			t.Errorf("sensitiveAllowed lists %q, which role.yaml no longer grants: remove it here and in %s", k, docPath)
		}
	}

	rows := tableAfter(t, readDoc(t), "### Sensitive grants")
	documented := map[string]string{}
	for _, row := range rows {
		if len(row) != 3 {
			t.Fatalf("%s sensitive grants: row %q, want Resource | Verb | Reason", docPath, row)
		}
		documented[row[0]+" "+row[1]] = row[2]
	}
	for k, reason := range sensitiveAllowed {
		if documented[k] != reason {
			t.Errorf("%s sensitive grants, %s:\n doc:  %q\n test: %q", docPath, k, documented[k], reason)
		}
	}
	for k := range documented {
		if _, ok := sensitiveAllowed[k]; !ok {
			t.Errorf("%s documents sensitive grant %q that the test's allowlist lacks", docPath, k)
		}
	}
}

// roleHeading introduces one role's table: "### ClusterRole name (`config/rbac/file.yaml`)".
var roleHeading = regexp.MustCompile("^##+ (Role|ClusterRole) (\\S+) \\(`config/(rbac/[^`]+)`\\)$")

func TestDocTablesAreTheRoles(t *testing.T) {
	doc := readDoc(t)
	tables := map[string]bool{}
	for _, line := range doc {
		m := roleHeading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		kind, name, file := m[1], m[2], m[3]
		tables[kind+" "+name] = true
		var ro *role
		for _, r := range loadRoles(t, file) {
			if r.kind == kind && r.name == name {
				ro = &r
			}
		}
		if ro == nil {
			t.Errorf("%s: heading %q names no %s %s in config/%s", docPath, line, kind, name, file)
			continue
		}
		documented := map[string][]string{}
		for _, row := range tableAfter(t, doc, line) {
			if len(row) < 4 {
				t.Errorf("%s %s: row %q, want API group | Resource | Verbs | Why", docPath, name, row)
				continue
			}
			if strings.TrimSpace(row[3]) == "" {
				t.Errorf("%s %s: %s %s has no reason", docPath, name, row[0], row[1])
			}
			res, names, _ := strings.Cut(row[1], ": ")
			var ns []string
			if names != "" {
				ns = strings.Split(names, ", ")
				sort.Strings(ns)
			}
			key := grantKey(strings.TrimPrefix(row[0], "core"), res, ns)
			if _, dup := documented[key]; dup {
				t.Errorf("%s %s: %s documented twice", docPath, name, key)
			}
			verbs := strings.Split(strings.ReplaceAll(row[2], "`", ""), ", ")
			sort.Strings(verbs)
			documented[key] = verbs
		}
		granted := grants(ro.rules)
		for key, verbs := range granted {
			if got, ok := documented[key]; !ok {
				t.Errorf("%s %s: %s grants %s %v, which the doc does not explain", docPath, name, file, key, verbs)
			} else if !slices.Equal(got, verbs) {
				t.Errorf("%s %s: %s: doc says %v, %s grants %v", docPath, name, key, got, file, verbs)
			}
		}
		for key := range documented {
			if _, ok := granted[key]; !ok {
				t.Errorf("%s %s: documents %s, which %s does not grant", docPath, name, key, file)
			}
		}
	}
	for _, ro := range allRoles(t) {
		if !tables[ro.kind+" "+ro.name] {
			t.Errorf("%s has no table for %s %s (%s)", docPath, ro.kind, ro.name, ro.file)
		}
	}
}

// TestTenantRolesStayInTheirLane checks what the operator hands a
// community's members: nothing that writes RBAC, runs or reaches into
// pods, or creates workloads, and Secrets for the community admin only.
func TestTenantRolesStayInTheirLane(t *testing.T) {
	forbidden := map[string]bool{
		"pods/exec": true, "pods/attach": true, "pods/portforward": true, "pods/proxy": true, "services/proxy": true,
		"serviceaccounts/token": true, "nodes": true, "namespaces": true,
	}
	readOnly := map[string]bool{"get": true, "list": true, "watch": true}
	for _, ro := range loadRoles(t, "rbac/community_roles.yaml") {
		for key, verbs := range grants(ro.rules) {
			group, res, _ := strings.Cut(key, " ")
			res, _, _ = strings.Cut(res, ":")
			if forbidden[res] {
				t.Errorf("%s: %s", ro.name, key)
			}
			if group == rbacv1.GroupName {
				t.Errorf("%s: tenants get no RBAC rights (%s %v)", ro.name, key, verbs)
			}
			if res == "secrets" && ro.name != "fedcommons-community-admin" {
				t.Errorf("%s: only the community admin handles Secrets (%v)", ro.name, verbs)
			}
			if group != "fedcommons.io" && res != "secrets" {
				for _, v := range verbs {
					if !readOnly[v] {
						t.Errorf("%s: %s %s: tenants shape their servers through Instances, not raw objects", ro.name, key, v)
					}
				}
			}
		}
	}
}

func readDoc(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.FromSlash(docPath))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// tableAfter returns the cells of the first Markdown table after the line
// heading (header and separator rows left out), backticks stripped from
// the first two cells (names), the rest as written.
func tableAfter(t *testing.T, doc []string, heading string) [][]string {
	t.Helper()
	i := slices.Index(doc, heading)
	if i < 0 {
		t.Fatalf("%s: no line %q", docPath, heading)
	}
	for i++; i < len(doc) && !strings.HasPrefix(doc[i], "|"); i++ {
		if strings.HasPrefix(doc[i], "#") {
			t.Fatalf("%s: no table under %q", docPath, heading)
		}
	}
	var rows [][]string
	for j := i; j < len(doc) && strings.HasPrefix(doc[j], "|"); j++ {
		if j < i+2 {
			continue // header, separator
		}
		cells := strings.Split(strings.Trim(doc[j], "|"), " | ")
		for k := range cells {
			cells[k] = strings.TrimSpace(cells[k])
			if k < 2 {
				cells[k] = strings.ReplaceAll(cells[k], "`", "")
			}
		}
		rows = append(rows, cells)
	}
	if len(rows) == 0 {
		t.Fatalf("%s: empty table under %q", docPath, heading)
	}
	return rows
}
