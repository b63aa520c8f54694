package devcluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"path/filepath"
	"sync"
	"time"

	certmanagerv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Labels and annotations that mark what the demo's stand-ins created, so
// that nobody mistakes them for the work of the real controllers.
const (
	LabelPartOf     = "app.kubernetes.io/part-of"
	DemoPartOf      = "fedcommons-demo"
	LabelStandIn    = "fedcommons.io/demo-stand-in"
	AnnotationNote  = "fedcommons.io/demo-note"
	certStandInName = "cert-manager"
	pvStandInName   = "storage-provisioner"
)

// standInPeriod is how often the stand-ins look for work. They poll rather
// than watch: a List of a handful of objects every second is nothing for
// the local API server, and polling has no reconnect logic to get wrong.
const standInPeriod = time.Second

// IssueSelfSigned returns a PEM certificate and PKCS#8 key for dnsNames,
// self-signed, valid from now for validity — what cert-manager's
// SelfSigned issuer produces. ECDSA P-256 keeps generation instant.
func IssueSelfSigned(dnsNames []string, now time.Time, validity time.Duration) (certPEM, keyPEM []byte, cert *x509.Certificate, err error) {
	if len(dnsNames) == 0 {
		return nil, nil, nil, fmt.Errorf("no dnsNames to certify")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: dnsNames[0], Organization: []string{"fedcommons demo (self-signed, not trusted)"}},
		DNSNames:              dnsNames,
		NotBefore:             now.Add(-time.Minute).UTC().Truncate(time.Second),
		NotAfter:              now.Add(validity).UTC().Truncate(time.Second),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), cert, nil
}

// RunStandIns runs the stand-ins for cert-manager and a storage
// provisioner (certStandIn, pvStandIn) against c until ctx ends, and
// returns when both have stopped. For test rigs on a local cluster (the
// crash suite) that need hosted Instances to become Ready without the real
// controllers; never for a real cluster.
func RunStandIns(ctx context.Context, c client.Client, log logr.Logger) {
	runStandIns(ctx, c, log, "")
}

// runStandIns runs the stand-ins; with a volumes directory, the storage
// stand-in's volumes are directories under it and the backup stand-in
// runs the backup pods kwok leaves running (the demo).
func runStandIns(ctx context.Context, c client.Client, log logr.Logger, volumes string) {
	var wg sync.WaitGroup
	wg.Go(func() { (&certStandIn{c: c, log: log.WithName("cert-manager-stand-in")}).run(ctx) })
	root := volumes
	if root == "" {
		root = defaultVolumeRoot
	}
	wg.Go(func() { (&pvStandIn{c: c, log: log.WithName("storage-stand-in"), root: root}).run(ctx) })
	if volumes != "" {
		wg.Go(func() { (&backupStandIn{c: c, log: log.WithName("backup-pod-stand-in"), volumes: volumes}).run(ctx) })
	}
	wg.Wait()
}

// defaultVolumeRoot is where the storage stand-in's volumes point when
// nothing runs in them (kwok pods write nothing).
const defaultVolumeRoot = "/var/lib/fedcommons-demo"

// certStandIn plays cert-manager's controller for the demo: for every
// Certificate not yet Ready it writes the TLS Secret (with the labels of
// the Certificate's secretTemplate, as cert-manager does — the operator
// only sees labelled Secrets) and sets the Ready condition.
type certStandIn struct {
	c   client.Client
	log logr.Logger
}

func (s *certStandIn) run(ctx context.Context) {
	s.log.Info("demo stand-in for cert-manager started: it issues self-signed certificates for every Certificate")
	tick := time.NewTicker(standInPeriod)
	defer tick.Stop()
	for {
		if err := s.pass(ctx); err != nil && ctx.Err() == nil {
			s.log.Error(err, "demo stand-in for cert-manager")
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (s *certStandIn) pass(ctx context.Context) error {
	list := &certmanagerv1.CertificateList{}
	if err := s.c.List(ctx, list); err != nil {
		return err
	}
	for i := range list.Items {
		cert := &list.Items[i]
		if certReady(cert) {
			continue
		}
		if err := s.issue(ctx, cert); err != nil {
			return fmt.Errorf("certificate %s/%s: %w", cert.Namespace, cert.Name, err)
		}
	}
	return nil
}

func certReady(cert *certmanagerv1.Certificate) bool {
	for _, c := range cert.Status.Conditions {
		if c.Type == certmanagerv1.CertificateConditionReady && c.Status == cmmeta.ConditionTrue && c.ObservedGeneration == cert.Generation {
			return true
		}
	}
	return false
}

func (s *certStandIn) issue(ctx context.Context, cert *certmanagerv1.Certificate) error {
	const validity = 90 * 24 * time.Hour
	certPEM, keyPEM, x, err := IssueSelfSigned(cert.Spec.DNSNames, time.Now(), validity)
	if err != nil {
		return err
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: cert.Namespace, Name: cert.Spec.SecretName}}
	labels := map[string]string{LabelStandIn: certStandInName}
	annotations := map[string]string{
		"cert-manager.io/certificate-name": cert.Name,
		"cert-manager.io/issuer-name":      cert.Spec.IssuerRef.Name,
		"cert-manager.io/issuer-kind":      cert.Spec.IssuerRef.Kind,
		AnnotationNote:                     "issued by fedcommons-dev's demo stand-in for cert-manager: self-signed, not trusted by anyone",
	}
	if t := cert.Spec.SecretTemplate; t != nil {
		for k, v := range t.Labels {
			labels[k] = v
		}
		for k, v := range t.Annotations {
			annotations[k] = v
		}
	}
	if err := s.c.Get(ctx, client.ObjectKeyFromObject(sec), sec); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	sec.Labels, sec.Annotations = labels, annotations
	sec.Type = corev1.SecretTypeTLS
	sec.Data = map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM, "ca.crt": certPEM}
	if sec.ResourceVersion == "" {
		err = s.c.Create(ctx, sec)
	} else {
		err = s.c.Update(ctx, sec)
	}
	if err != nil {
		return err
	}
	now := metav1.Now()
	notBefore, notAfter := metav1.NewTime(x.NotBefore), metav1.NewTime(x.NotAfter)
	renewal := metav1.NewTime(x.NotAfter.Add(-validity / 3))
	rev := 1
	if cert.Status.Revision != nil {
		rev = *cert.Status.Revision + 1
	}
	cert.Status.Conditions = []certmanagerv1.CertificateCondition{{
		Type: certmanagerv1.CertificateConditionReady, Status: cmmeta.ConditionTrue, Reason: "Ready",
		Message:            "Certificate is up to date and has not expired (issued by the demo stand-in for cert-manager)",
		LastTransitionTime: &now, ObservedGeneration: cert.Generation,
	}}
	cert.Status.NotBefore, cert.Status.NotAfter, cert.Status.RenewalTime = &notBefore, &notAfter, &renewal
	cert.Status.Revision = &rev
	if err := s.c.Status().Update(ctx, cert); err != nil {
		return err
	}
	s.log.Info("demo stand-in for cert-manager issued a self-signed certificate", "certificate", cert.Namespace+"/"+cert.Name, "dnsNames", cert.Spec.DNSNames, "secret", sec.Name)
	return nil
}

// pvStandIn plays a storage provisioner: kwok runs no CSI driver, and a
// Pod whose claim stays unbound is never scheduled. For every Pending
// claim it creates a PersistentVolume pre-bound to it (kwok's Pods write
// nothing there; only the demo's backup stand-in does, in the host
// directory of the volume); kube-controller-manager's binder then binds
// them as it would bind any static volume.
type pvStandIn struct {
	c    client.Client
	log  logr.Logger
	root string // the volumes' host directories are root/<volume name>
}

func (s *pvStandIn) run(ctx context.Context) {
	s.log.Info("demo stand-in for a storage provisioner started: it creates a volume for every pending claim")
	tick := time.NewTicker(standInPeriod)
	defer tick.Stop()
	for {
		if err := s.pass(ctx); err != nil && ctx.Err() == nil {
			s.log.Error(err, "demo stand-in for a storage provisioner")
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (s *pvStandIn) pass(ctx context.Context) error {
	list := &corev1.PersistentVolumeClaimList{}
	if err := s.c.List(ctx, list); err != nil {
		return err
	}
	for i := range list.Items {
		pvc := &list.Items[i]
		if pvc.Status.Phase != corev1.ClaimPending || pvc.Spec.VolumeName != "" {
			continue
		}
		name := "demo-" + string(pvc.UID)
		modes := pvc.Spec.AccessModes
		if len(modes) == 0 {
			modes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
		}
		class := ""
		if pvc.Spec.StorageClassName != nil {
			class = *pvc.Spec.StorageClassName
		}
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{
				Name:        name,
				Labels:      map[string]string{LabelPartOf: DemoPartOf, LabelStandIn: pvStandInName},
				Annotations: map[string]string{AnnotationNote: "created by fedcommons-dev's demo stand-in for a storage provisioner; kwok pods never write to it, the demo's backup stand-in does"},
			},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
				AccessModes:                   modes,
				StorageClassName:              class,
				VolumeMode:                    pvc.Spec.VolumeMode,
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID},
				PersistentVolumeSource: corev1.PersistentVolumeSource{
					HostPath: &corev1.HostPathVolumeSource{Path: filepath.Join(s.root, name)},
				},
			},
		}
		if err := s.c.Create(ctx, pv); err != nil {
			if apierrors.IsAlreadyExists(err) {
				continue
			}
			return fmt.Errorf("volume for claim %s/%s: %w", pvc.Namespace, pvc.Name, err)
		}
		s.log.Info("demo stand-in for a storage provisioner created a volume", "claim", pvc.Namespace+"/"+pvc.Name, "volume", name)
	}
	return nil
}
