package resources

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/config/crd"
	"github.com/fedcommons/fedcommons/internal/software"
)

// TestNameLimitsMatchAdmission keeps the Instance CRD's name limits (the
// CEL rule that refuses a long name at admission) in step with the names
// the profiles derive: a name at the limit builds every object, one more
// character does not. A profile that gains a longer Job or CronJob name
// fails here until the rule is changed with it.
func TestNameLimitsMatchAdmission(t *testing.T) {
	data, err := crd.Bases.ReadFile("bases/fedcommons.io_instances.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The YAML folds the long rule over lines; the numbers are what count.
	flat := strings.Join(strings.Fields(string(data)), " ")
	m := regexp.MustCompile(`size\(self\.metadata\.name\) <= \(self\.spec\.software == ''mastodon'' \? (\d+) : (\d+)\)`).FindStringSubmatch(flat)
	if m == nil {
		t.Fatal("no name-length rule in the Instance CRD")
	}
	limits := map[v1alpha1.Software]string{v1alpha1.SoftwareMastodon: m[1], v1alpha1.SoftwareGoToSocial: m[2]}
	versions := map[v1alpha1.Software][]string{
		v1alpha1.SoftwareMastodon:   {"4.5.2", "4.5.0-beta.2"},
		v1alpha1.SoftwareGoToSocial: {"0.20.1", "0.21.0-rc1"},
	}
	for sw, raw := range limits {
		limit, _ := strconv.Atoi(raw)
		p, err := software.Lookup(sw)
		if err != nil {
			t.Fatal(err)
		}
		for _, version := range versions[sw] {
			inst := &v1alpha1.Instance{Spec: v1alpha1.InstanceSpec{Software: sw, Version: version}}
			inst.Name = "a" + strings.Repeat("b", limit-1)
			if err := CheckNames(inst, p); err != nil {
				t.Errorf("%s %s: a name of %d characters, which admission accepts, cannot be hosted: %v", sw, version, limit, err)
			}
			inst.Name += "c"
			if err := CheckNames(inst, p); err == nil {
				t.Errorf("%s %s: a name of %d characters would fit, but admission refuses it: raise the limit", sw, version, limit+1)
			}
		}
	}
}
