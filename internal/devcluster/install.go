package devcluster

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"
	"time"

	certmanagerv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fedcommons/fedcommons/config"
	crds "github.com/fedcommons/fedcommons/config/crd"
	"github.com/fedcommons/fedcommons/internal/tenancy"
	"github.com/fedcommons/fedcommons/internal/thirdparty"
)

// Manifests are the demo's own objects, rendered with the addresses of the
// in-process servers (see manifestData) and applied in file order.
//
//go:embed manifests/*.yaml
var manifests embed.FS

// operatorNamespace is where the operator would run in a cluster.
const operatorNamespace = "fedcommons-system"

// issuerName is the ClusterIssuer the samples name.
const issuerName = "letsencrypt"

// manifestData fills the manifests' placeholders.
type manifestData struct {
	SocialAPI, TootAPI, TownURL, TownToken, BlocklistURL string
	// GoToSocialOAuth is set when the operator can obtain a GoToSocial
	// admin token; until then the GoToSocial instance does not sync.
	GoToSocialOAuth bool
}

// decodeDocs splits multi-document YAML into objects, skipping empty ones.
func decodeDocs(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		obj := map[string]any{}
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(obj) > 0 {
			out = append(out, &unstructured.Unstructured{Object: obj})
		}
	}
}

// renderManifests renders the embedded manifests, in file order.
func renderManifests(d manifestData) ([]*unstructured.Unstructured, error) {
	names, err := fs.Glob(manifests, "manifests/*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []*unstructured.Unstructured
	for _, name := range names {
		raw, err := manifests.ReadFile(name)
		if err != nil {
			return nil, err
		}
		tmpl, err := template.New(name).Option("missingkey=error").Parse(string(raw))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, d); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		objs, err := decodeDocs(buf.Bytes())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, objs...)
	}
	return out, nil
}

// InstallPlatform is installPlatform, for test rigs on a local cluster.
func InstallPlatform(ctx context.Context, c client.Client) error { return installPlatform(ctx, c) }

// installPlatform installs what a cluster running fedcommons has before
// any community arrives: the CRDs (ours and cert-manager's and Gateway
// API's), the community roles, the approvals' admission policy, the
// operator namespace and a ClusterIssuer.
func installPlatform(ctx context.Context, c client.Client) error {
	var crdObjs []*unstructured.Unstructured
	err := fs.WalkDir(crds.Bases, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := crds.Bases.ReadFile(path)
		if err != nil {
			return err
		}
		objs, err := decodeDocs(data)
		crdObjs = append(crdObjs, objs...)
		return err
	})
	if err != nil {
		return fmt.Errorf("fedcommons CRDs: %w", err)
	}
	dirs, err := thirdparty.CRDDirs()
	if err != nil {
		return err
	}
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			return err
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			objs, err := decodeDocs(data)
			if err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			for _, o := range objs {
				if o.GetKind() == "CustomResourceDefinition" {
					crdObjs = append(crdObjs, o)
				}
			}
		}
	}
	for _, o := range crdObjs {
		if err := c.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create CRD %s: %w", o.GetName(), err)
		}
	}
	for _, o := range crdObjs {
		if err := waitEstablished(ctx, c, o.GetName()); err != nil {
			return err
		}
	}

	roles, err := decodeDocs(config.CommunityRoles)
	if err != nil {
		return fmt.Errorf("community roles: %w", err)
	}
	for _, o := range roles {
		if err := c.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create %s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	// Approvals in their author's name only, as config/default and the
	// chart install it (docs/review.md).
	admission, err := decodeDocs(config.AdmissionPolicy)
	if err != nil {
		return fmt.Errorf("admission policy: %w", err)
	}
	for _, o := range admission {
		if err := c.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create %s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace, Labels: map[string]string{LabelPartOf: "fedcommons"}}}
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	issuer := &certmanagerv1.ClusterIssuer{
		ObjectMeta: metav1.ObjectMeta{
			Name:   issuerName,
			Labels: map[string]string{LabelPartOf: DemoPartOf},
			Annotations: map[string]string{AnnotationNote: "the demo's issuer, named as config/samples expect: self-signed; " +
				"fedcommons-dev's stand-in for cert-manager issues its certificates, no ACME server is contacted"},
		},
		Spec: certmanagerv1.IssuerSpec{IssuerConfig: certmanagerv1.IssuerConfig{SelfSigned: &certmanagerv1.SelfSignedIssuer{}}},
	}
	if err := c.Create(ctx, issuer); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create ClusterIssuer %s: %w", issuerName, err)
	}
	return nil
}

func waitEstablished(ctx context.Context, c client.Client, name string) error {
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
			return false, nil
		}
		for _, cond := range crd.Status.Conditions {
			if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("CRD %s not established: %w", name, err)
	}
	return nil
}

// applyDemo creates the demo's objects. Namespaced objects wait for their
// namespace: the Community controller creates it. progress is told what the
// demo is waiting for (for the table), and "" once everything is created.
func applyDemo(ctx context.Context, c client.Client, objs []*unstructured.Unstructured, progress func(string)) error {
	defer progress("")
	for _, o := range objs {
		what := fmt.Sprintf("%s %s", o.GetKind(), strings.TrimPrefix(o.GetNamespace()+"/"+o.GetName(), "/"))
		progress("the demo to create " + what)
		err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			err := c.Create(ctx, o.DeepCopy())
			switch {
			case err == nil, apierrors.IsAlreadyExists(err):
				return true, nil
			case apierrors.IsNotFound(err) && o.GetNamespace() != "":
				progress(fmt.Sprintf("namespace %s (the Community controller creates it) before the demo can create %s", o.GetNamespace(), what))
				return false, nil
			case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "status unknown for quota"):
				// The community's ResourceQuota is new: the API server
				// admits nothing it covers until kube-controller-manager
				// has filled its status. For a quota on a custom resource
				// (count/instances.fedcommons.io) that waits for the quota
				// controller's next discovery pass: up to ~30 s.
				progress(fmt.Sprintf("kube-controller-manager to fill the status of ResourceQuota %s/%s: the API server admits no %s until it has",
					o.GetNamespace(), tenancy.QuotaName, what))
				return false, nil
			}
			return false, err
		})
		if err != nil {
			return fmt.Errorf("create %s: %w", what, err)
		}
	}
	return nil
}
