// Package samples_test checks the sample manifests the way the API server
// would (OpenAPI schema, defaults and CEL rules of the generated CRDs), and
// that the operator's builders turn every hosted Instance sample into pods
// that pass the Pod Security "restricted" profile.
package samples_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/config/crd"
	"github.com/fedcommons/fedcommons/internal/resources"
	"github.com/fedcommons/fedcommons/internal/software"
)

type kindSchema struct {
	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaValidator
}

func loadSchemas(t *testing.T) map[string]kindSchema {
	t.Helper()
	out := map[string]kindSchema{}
	err := fs.WalkDir(crd.Bases, "bases", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := crd.Bases.ReadFile(path)
		if err != nil {
			return err
		}
		var def apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(raw, &def); err != nil {
			return err
		}
		for _, v := range def.Spec.Versions {
			if v.Name != "v1alpha1" {
				continue
			}
			var props apiextensions.JSONSchemaProps
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &props, nil); err != nil {
				return err
			}
			s, err := structuralschema.NewStructural(&props)
			if err != nil {
				return err
			}
			validator, _, err := apiservervalidation.NewSchemaValidator(&props)
			if err != nil {
				return err
			}
			out[def.Spec.Names.Kind] = kindSchema{structural: s, validator: validator}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type sample struct {
	file string
	obj  map[string]interface{}
}

func loadSamples(t *testing.T) []sample {
	t.Helper()
	raw, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(raw, &k); err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	var out []sample
	for _, f := range k.Resources {
		listed[f] = true
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// Through apimachinery's JSON decoder, as the API server does:
		// integers stay int64, which CEL rules compare against.
		js, err := yaml.YAMLToJSON(raw)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var obj map[string]interface{}
		if err := utiljson.Unmarshal(js, &obj); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, sample{file: f, obj: obj})
	}
	manifests, _ := filepath.Glob("*.yaml")
	for _, f := range manifests {
		if f != "kustomization.yaml" && !listed[f] {
			t.Errorf("%s is not listed in kustomization.yaml", f)
		}
	}
	return out
}

// TestSamplesValidate applies the CRDs' defaults, OpenAPI schema and CEL
// rules to every sample, and decodes each strictly into its Go type.
func TestSamplesValidate(t *testing.T) {
	schemas := loadSchemas(t)
	kinds := map[string]int{}
	for _, s := range loadSamples(t) {
		kind, _ := s.obj["kind"].(string)
		if s.obj["apiVersion"] != "fedcommons.io/v1alpha1" {
			continue // the namespace: see TestSamplesCreateWhatTheyReference
		}
		kinds[kind]++
		sch, ok := schemas[kind]
		if !ok {
			t.Errorf("%s: no CRD for kind %q", s.file, kind)
			continue
		}
		structuraldefaulting.Default(s.obj, sch.structural)
		for _, e := range apiservervalidation.ValidateCustomResource(nil, s.obj, sch.validator) {
			t.Errorf("%s: schema: %v", s.file, e)
		}
		errs, _ := cel.NewValidator(sch.structural, true, celconfig.PerCallLimit).Validate(context.Background(), nil, sch.structural, s.obj, nil, celconfig.RuntimeCELCostBudget)
		for _, e := range errs {
			t.Errorf("%s: rule: %v", s.file, e)
		}
		raw, _ := yaml.Marshal(s.obj)
		var typed interface{}
		switch kind {
		case "Community":
			typed = &v1alpha1.Community{}
		case "Instance":
			typed = &v1alpha1.Instance{}
		case "FederationPolicy":
			typed = &v1alpha1.FederationPolicy{}
		}
		if err := yaml.UnmarshalStrict(raw, typed); err != nil {
			t.Errorf("%s: %v", s.file, err)
		}
	}
	if kinds["Community"] != 1 || kinds["Instance"] != 4 || kinds["FederationPolicy"] != 1 {
		t.Errorf("samples by kind = %v, want 1 Community, 4 Instances, 1 FederationPolicy", kinds)
	}
}

// The checks above must be able to fail: a broken copy of a sample is refused.
func TestSamplesValidationBites(t *testing.T) {
	schemas := loadSchemas(t)
	for _, s := range loadSamples(t) {
		if s.file != "fedcommons_v1alpha1_instance_gotosocial.yaml" {
			continue
		}
		spec := s.obj["spec"].(map[string]interface{})
		spec["software"] = "mastodon"               // sqlite is gotosocial only (CEL)
		spec["domain"] = "Social.Riverside.Example" // not a lower-case DNS name (CEL)
		sch := schemas["Instance"]
		structuraldefaulting.Default(s.obj, sch.structural)
		errs, _ := cel.NewValidator(sch.structural, true, celconfig.PerCallLimit).Validate(context.Background(), nil, sch.structural, s.obj, nil, celconfig.RuntimeCELCostBudget)
		msgs := errs.ToAggregate()
		if msgs == nil || !strings.Contains(msgs.Error(), "sqlite is only supported by gotosocial") || !strings.Contains(msgs.Error(), "lower-case DNS name") {
			t.Errorf("broken sample accepted or with unexpected errors: %v", msgs)
		}
		return
	}
	t.Fatal("gotosocial sample not found")
}

// TestSamplesBuild builds every object of each hosted Instance sample and
// checks each pod against the restricted Pod Security profile.
func TestSamplesBuild(t *testing.T) {
	schemas := loadSchemas(t)
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	level := psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}
	params := resources.Params{Community: "riverside", OperatorNamespace: "fedcommons-system"}
	hosted := 0
	for _, s := range loadSamples(t) {
		if s.obj["kind"] != "Instance" {
			continue
		}
		structuraldefaulting.Default(s.obj, schemas["Instance"].structural)
		raw, _ := yaml.Marshal(s.obj)
		var inst v1alpha1.Instance
		if err := yaml.UnmarshalStrict(raw, &inst); err != nil {
			t.Fatal(err)
		}
		if inst.Spec.External != nil {
			continue
		}
		hosted++
		p, err := software.Lookup(inst.Spec.Software)
		if err != nil {
			t.Fatal(err)
		}
		if err := resources.CheckNames(&inst, p); err != nil {
			t.Errorf("%s: %v", s.file, err)
		}
		objs, err := resources.Desired(&inst, p, inst.Spec.Version, params)
		if err != nil {
			t.Errorf("%s: %v", s.file, err)
			continue
		}
		var pods []string
		for _, o := range objs {
			raw, _ := yaml.Marshal(o)
			var generic struct {
				Kind string `json:"kind"`
				Spec struct {
					Template    *podTemplate `json:"template"`
					JobTemplate *struct {
						Spec struct {
							Template *podTemplate `json:"template"`
						} `json:"spec"`
					} `json:"jobTemplate"`
				} `json:"spec"`
			}
			if err := yaml.Unmarshal(raw, &generic); err != nil {
				t.Fatal(err)
			}
			tmpl := generic.Spec.Template
			if generic.Spec.JobTemplate != nil {
				tmpl = generic.Spec.JobTemplate.Spec.Template
			}
			if tmpl == nil {
				continue
			}
			pods = append(pods, generic.Kind+"/"+o.GetName())
			res := policy.AggregateCheckResults(evaluator.EvaluatePod(level, &tmpl.ObjectMeta, &tmpl.Spec))
			if !res.Allowed {
				t.Errorf("%s: %s %s: %s", s.file, generic.Kind, o.GetName(), res.ForbiddenDetail())
			}
		}
		if len(pods) == 0 {
			t.Errorf("%s: no pods built", s.file)
		}
		t.Logf("%s: %s", s.file, strings.Join(pods, ", "))
	}
	if hosted != 3 {
		t.Errorf("hosted Instance samples = %d, want 3", hosted)
	}
}

type podTemplate = corev1.PodTemplateSpec
