package controllers_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// These tests hold the schema to its promise: every invalid manifest is
// refused by the API server at admission, with a message a sysadmin can
// act on, and nothing invalid is stored. Valid variations are admitted.

func hostedInstance(ns, name string) *v1alpha1.Instance {
	return &v1alpha1.Instance{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.InstanceSpec{
			Software: v1alpha1.SoftwareGoToSocial,
			Version:  "0.20.1",
			Domain:   "social.riverside.example",
			TLS:      &v1alpha1.TLSSpec{IssuerRef: &v1alpha1.IssuerReference{Name: "letsencrypt"}},
		},
	}
}

func externalInstance(ns, name string) *v1alpha1.Instance {
	return &v1alpha1.Instance{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.InstanceSpec{
			Software: v1alpha1.SoftwareMastodon,
			Domain:   "old.riverside.example",
			External: &v1alpha1.ExternalServer{
				URL:            "https://old.riverside.example",
				TokenSecretRef: v1alpha1.SecretKeyReference{Name: "old-admin-token", Key: "token"},
			},
		},
	}
}

func basePolicy(ns, name string) *v1alpha1.FederationPolicy {
	return &v1alpha1.FederationPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.FederationPolicySpec{
			Entries: []v1alpha1.PolicyEntry{{Domain: "spam.example", Action: v1alpha1.ActionSuspend}},
			Sources: []v1alpha1.PolicySource{{
				Name: "iftas-dni", URL: "https://example.org/dni.csv", Format: v1alpha1.FormatMastodonCSV, Weight: ptr.To[int32](2),
			}},
		},
	}
}

func baseCommunity(name string) *v1alpha1.Community {
	return &v1alpha1.Community{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.CommunitySpec{
			DisplayName: "Validation Commons",
			Members:     []v1alpha1.CommunityMember{{Kind: v1alpha1.SubjectUser, Name: "alice@example.org", Role: v1alpha1.RoleAdmin}},
		},
	}
}

// expectRejected creates obj, expects an Invalid error containing every
// message fragment, and checks nothing was stored.
func expectRejected(obj client.Object, fragments ...string) {
	GinkgoHelper()
	err := k8sClient.Create(ctx, obj)
	Expect(err).To(HaveOccurred(), "the API server admitted an invalid %T", obj)
	Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want 422 Invalid, got: %v", err)
	for _, f := range fragments {
		Expect(err.Error()).To(ContainSubstring(f))
	}
	stored := obj.DeepCopyObject().(client.Object)
	Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), stored))).To(BeTrue(), "an invalid object was stored")
}

var _ = Describe("Admission validation", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	DescribeTable("Instance create is refused",
		func(mutate func(*v1alpha1.Instance), fragments ...string) {
			inst := hostedInstance(ns, uniqueName("inst"))
			mutate(inst)
			expectRejected(inst, fragments...)
		},
		Entry("upper-case domain", func(i *v1alpha1.Instance) { i.Spec.Domain = "Social.Example.org" }, "must be a lower-case DNS name"),
		Entry("domain without a dot", func(i *v1alpha1.Instance) { i.Spec.Domain = "localhost" }, "must be a lower-case DNS name"),
		Entry("domain with a trailing dot", func(i *v1alpha1.Instance) { i.Spec.Domain = "social.example.org." }, "must be a lower-case DNS name"),
		Entry("wildcard domain", func(i *v1alpha1.Instance) { i.Spec.Domain = "*.example.org" }, "must be a lower-case DNS name"),
		Entry("domain over 253 characters", func(i *v1alpha1.Instance) {
			long := ""
			for len(long) < 250 {
				long += "abcdefghij."
			}
			i.Spec.Domain = v1alpha1.Domain(long + "org")
		}, "spec.domain", "253"),
		Entry("unknown software", func(i *v1alpha1.Instance) { i.Spec.Software = "friendica" }, "spec.software", "Unsupported value"),
		Entry("hosted without a version", func(i *v1alpha1.Instance) { i.Spec.Version = "" }, "version is required for a hosted instance"),
		Entry("malformed version", func(i *v1alpha1.Instance) { i.Spec.Version = "latest" }, "must be a version such as 0.20.1"),
		Entry("ingress and gateway together", func(i *v1alpha1.Instance) {
			i.Spec.Ingress = &v1alpha1.IngressSpec{ClassName: "nginx"}
			i.Spec.Gateway = &v1alpha1.GatewaySpec{ParentRefs: []v1alpha1.GatewayParentReference{{Name: "public"}}}
		}, "set ingress or gateway, not both"),
		Entry("domain outside accountDomain", func(i *v1alpha1.Instance) { i.Spec.AccountDomain = "hillside.example" },
			"domain must be accountDomain itself or a subdomain of it"),
		Entry("sqlite for mastodon", func(i *v1alpha1.Instance) {
			i.Spec.Software = v1alpha1.SoftwareMastodon
			i.Spec.Version = "4.5.2"
			i.Spec.Database = &v1alpha1.DatabaseSpec{Engine: v1alpha1.DatabaseSQLite}
		}, "sqlite is only supported by gotosocial"),
		Entry("redis for gotosocial", func(i *v1alpha1.Instance) { i.Spec.Redis = &v1alpha1.RedisSpec{Mode: v1alpha1.RedisBundled} },
			"redis is only used by mastodon"),
		Entry("tls with both issuer and secret", func(i *v1alpha1.Instance) { i.Spec.TLS.SecretName = "mine" },
			"set exactly one of issuerRef"),
		Entry("tls with neither", func(i *v1alpha1.Instance) { i.Spec.TLS = &v1alpha1.TLSSpec{} }, "set exactly one of issuerRef"),
		Entry("issuer of an unknown kind", func(i *v1alpha1.Instance) { i.Spec.TLS.IssuerRef.Kind = "Vault" }, "spec.tls.issuerRef.kind", "Unsupported value"),
		Entry("external postgres without its address", func(i *v1alpha1.Instance) {
			i.Spec.Database = &v1alpha1.DatabaseSpec{Engine: v1alpha1.DatabasePostgres, Postgres: &v1alpha1.PostgresSpec{Mode: v1alpha1.PostgresExternal}}
		}, "set external (host, database, user, passwordSecretRef) exactly when mode is external"),
		Entry("postgres settings with sqlite", func(i *v1alpha1.Instance) {
			i.Spec.Database = &v1alpha1.DatabaseSpec{Engine: v1alpha1.DatabaseSQLite, Postgres: &v1alpha1.PostgresSpec{Mode: v1alpha1.PostgresBundled}}
		}, "postgres settings apply only with engine postgres"),
		Entry("too many replicas", func(i *v1alpha1.Instance) {
			i.Spec.Components = map[string]v1alpha1.ComponentSpec{"web": {Replicas: ptr.To[int32](500)}}
		}, "spec.components.web.replicas", "less than or equal to 50"),
		Entry("negative replicas", func(i *v1alpha1.Instance) {
			i.Spec.Components = map[string]v1alpha1.ComponentSpec{"web": {Replicas: ptr.To[int32](-1)}}
		}, "greater than or equal to 0"),
		Entry("unknown deletion policy", func(i *v1alpha1.Instance) { i.Spec.DeletionPolicy = "Purge" }, "spec.deletionPolicy", "Unsupported value"),
		Entry("unknown registrations", func(i *v1alpha1.Instance) { i.Spec.Registrations = "invite" }, "spec.registrations", "Unsupported value"),
		Entry("unknown federation mode", func(i *v1alpha1.Instance) {
			i.Spec.Federation = &v1alpha1.InstanceFederation{Mode: "denylist"}
		}, "spec.federation.mode", "Unsupported value"),
		Entry("admin API URL that is not a URL", func(i *v1alpha1.Instance) {
			i.Spec.Federation = &v1alpha1.InstanceFederation{APIURL: "social-web:8080"}
		}, "must be an http(s) URL"),
		Entry("drift check every second", func(i *v1alpha1.Instance) {
			i.Spec.Federation = &v1alpha1.InstanceFederation{DriftCheckInterval: &metav1.Duration{Duration: time.Second}}
		}, "and at least 1m"),
		Entry("s3 with a storage class", func(i *v1alpha1.Instance) {
			i.Spec.Storage = &v1alpha1.StorageSpec{StorageClassName: ptr.To("fast"), S3: &v1alpha1.S3Storage{
				Endpoint: "s3.example.org", Bucket: "media", CredentialsSecretRef: v1alpha1.LocalSecretReference{Name: "s3"}}}
		}, "storageClassName applies to a volume"),
		Entry("smtp sender without @", func(i *v1alpha1.Instance) {
			i.Spec.SMTP = &v1alpha1.SMTPSpec{Host: "smtp.example.org", From: "social"}
		}, "must be an e-mail address"),
		Entry("mastodon name over 31 characters", func(i *v1alpha1.Instance) {
			i.Spec.Software, i.Spec.Version = v1alpha1.SoftwareMastodon, "4.5.2"
			i.Name = "riverside-mastodon-for-everyonex" // 32
		}, "at most 31 characters for mastodon"),
		Entry("gotosocial name over 47 characters", func(i *v1alpha1.Instance) {
			i.Name = "riverside-gotosocial-for-everyone-in-the-valleyx" // 48
		}, "47 for gotosocial"),
		Entry("name that is not a DNS label", func(i *v1alpha1.Instance) { i.Name = "social.riverside" },
			"must start with a letter and hold only lower-case letters, digits and '-'"),
		Entry("name starting with a digit", func(i *v1alpha1.Instance) { i.Name = "1social" },
			"must start with a letter"),
		Entry("admin username with capitals", func(i *v1alpha1.Instance) {
			i.Spec.Admin = &v1alpha1.AdminSpec{Username: "Admin", Email: "admin@example.org"}
		}, "must be lower-case letters, digits and '_'"),
	)

	DescribeTable("external Instance create is refused",
		func(mutate func(*v1alpha1.Instance), fragments ...string) {
			inst := externalInstance(ns, uniqueName("ext"))
			mutate(inst)
			expectRejected(inst, fragments...)
		},
		Entry("with workload fields", func(i *v1alpha1.Instance) {
			i.Spec.Version = "4.5.2"
			i.Spec.Storage = &v1alpha1.StorageSpec{}
		}, "external describes a server hosted elsewhere"),
		Entry("with an admin to bootstrap", func(i *v1alpha1.Instance) {
			i.Spec.Admin = &v1alpha1.AdminSpec{Username: "admin", Email: "admin@example.org"}
		}, "external describes a server hosted elsewhere"),
		Entry("without a URL", func(i *v1alpha1.Instance) { i.Spec.External.URL = "" }, "must be the server's base URL"),
		Entry("with a path in the URL", func(i *v1alpha1.Instance) { i.Spec.External.URL = "https://old.example.org/api/v1" }, "must be the server's base URL"),
		Entry("without a token secret", func(i *v1alpha1.Instance) { i.Spec.External.TokenSecretRef.Name = "" }, "spec.external.tokenSecretRef.name"),
	)

	It("admits valid Instances, hosted and external, with defaults filled", func() {
		hosted := hostedInstance(ns, "valid-hosted")
		hosted.Spec.AccountDomain = "riverside.example"
		Expect(k8sClient.Create(ctx, hosted)).To(Succeed())
		Expect(hosted.Spec.Registrations).To(Equal(v1alpha1.RegistrationsApproval))
		Expect(hosted.Spec.DeletionPolicy).To(Equal(v1alpha1.DeletionRetain))
		Expect(hosted.Spec.TLS.IssuerRef.Kind).To(Equal("ClusterIssuer"))

		mastodon := hostedInstance(ns, "valid-mastodon")
		mastodon.Spec.Software = v1alpha1.SoftwareMastodon
		mastodon.Spec.Version = "4.5.2"
		mastodon.Spec.Domain = "masto.riverside.example"
		mastodon.Spec.Database = &v1alpha1.DatabaseSpec{Engine: v1alpha1.DatabasePostgres, Postgres: &v1alpha1.PostgresSpec{
			Mode: v1alpha1.PostgresExternal, External: &v1alpha1.ExternalPostgres{Host: "db.example.org", Database: "mastodon", User: "mastodon",
				PasswordSecretRef: v1alpha1.SecretKeyReference{Name: "db"}}}}
		mastodon.Spec.Redis = &v1alpha1.RedisSpec{}
		Expect(k8sClient.Create(ctx, mastodon)).To(Succeed())
		Expect(mastodon.Spec.Database.Postgres.External.Port).To(Equal(int32(5432)))
		Expect(mastodon.Spec.Redis.Mode).To(Equal(v1alpha1.RedisBundled))

		Expect(k8sClient.Create(ctx, externalInstance(ns, "valid-external"))).To(Succeed())

		By("names: up to the limit for hosted servers; an external one runs nothing, so any name")
		longest := hostedInstance(ns, "riverside-mastodon-for-everyone") // 31
		longest.Spec.Software, longest.Spec.Version, longest.Spec.Domain = v1alpha1.SoftwareMastodon, "4.5.2", "long.riverside.example"
		Expect(k8sClient.Create(ctx, longest)).To(Succeed())
		Expect(k8sClient.Create(ctx, externalInstance(ns, "old.riverside.example-the-server-we-had-before-the-co-op"))).To(Succeed())
	})

	DescribeTable("Instance update is refused",
		func(mutate func(*v1alpha1.Instance), fragment string) {
			inst := hostedInstance(ns, uniqueName("imm"))
			inst.Spec.AccountDomain = "riverside.example"
			Expect(k8sClient.Create(ctx, inst)).To(Succeed())
			// A merge patch without a resourceVersion: the operator updates
			// the object concurrently (finalizers, status).
			base := inst.DeepCopy()
			mutate(inst)
			err := k8sClient.Patch(ctx, inst, client.MergeFrom(base))
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want Invalid, got %v", err)
			Expect(err.Error()).To(ContainSubstring(fragment))
		},
		Entry("changing the domain", func(i *v1alpha1.Instance) { i.Spec.Domain = "new.riverside.example" }, "domain cannot be changed"),
		Entry("changing the account domain", func(i *v1alpha1.Instance) {
			i.Spec.AccountDomain = "social.riverside.example"
		}, "accountDomain cannot be added, changed or removed"),
		Entry("removing the account domain", func(i *v1alpha1.Instance) { i.Spec.AccountDomain = "" }, "accountDomain cannot be added, changed or removed"),
		Entry("changing the software", func(i *v1alpha1.Instance) {
			i.Spec.Software = v1alpha1.SoftwareMastodon
		}, "software cannot be changed"),
	)

	It("refuses a change to the bundled database's volume size, and says how to grow it", func() {
		inst := hostedInstance(ns, "sized")
		inst.Spec.Software, inst.Spec.Version, inst.Spec.Domain = v1alpha1.SoftwareMastodon, "4.5.2", "sized.riverside.example"
		ten := resource.MustParse("10Gi")
		inst.Spec.Database = &v1alpha1.DatabaseSpec{Engine: v1alpha1.DatabasePostgres, Postgres: &v1alpha1.PostgresSpec{StorageSize: &ten}}
		Expect(k8sClient.Create(ctx, inst)).To(Succeed())
		// Merge patches without a resourceVersion: the operator writes the
		// object concurrently.
		for _, size := range []*resource.Quantity{ptr.To(resource.MustParse("20Gi")), nil} {
			changed := inst.DeepCopy()
			changed.Spec.Database.Postgres.StorageSize = size
			err := k8sClient.Patch(ctx, changed, client.MergeFrom(inst))
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "storageSize %v: want Invalid, got %v", size, err)
			Expect(err.Error()).To(ContainSubstring("resize its PersistentVolumeClaim (data-<name>-postgres-0)"))
		}
		changed := inst.DeepCopy()
		changed.Spec.Registrations = v1alpha1.RegistrationsClosed
		Expect(k8sClient.Patch(ctx, changed, client.MergeFrom(inst))).To(Succeed(), "other changes stay possible")
	})

	It("admits an Instance update that keeps the immutable fields", func() {
		inst := hostedInstance(ns, "mutable")
		Expect(k8sClient.Create(ctx, inst)).To(Succeed())
		base := inst.DeepCopy()
		inst.Spec.Version = "0.20.2"
		inst.Spec.Suspend = true
		Expect(k8sClient.Patch(ctx, inst, client.MergeFrom(base))).To(Succeed())
	})

	DescribeTable("FederationPolicy create is refused",
		func(mutate func(*v1alpha1.FederationPolicy), fragments ...string) {
			p := basePolicy(ns, uniqueName("pol"))
			mutate(p)
			expectRejected(p, fragments...)
		},
		Entry("entry domain in upper case", func(p *v1alpha1.FederationPolicy) { p.Spec.Entries[0].Domain = "Spam.Example" }, "must be a lower-case DNS name"),
		Entry("entry for a single label", func(p *v1alpha1.FederationPolicy) { p.Spec.Entries[0].Domain = "com" }, "must be a lower-case DNS name"),
		Entry("unknown action", func(p *v1alpha1.FederationPolicy) { p.Spec.Entries[0].Action = "ban" }, "spec.entries[0].action", "Unsupported value"),
		Entry("duplicate entry domains", func(p *v1alpha1.FederationPolicy) {
			p.Spec.Entries = append(p.Spec.Entries, v1alpha1.PolicyEntry{Domain: "spam.example", Action: v1alpha1.ActionSilence})
		}, "Duplicate value"),
		Entry("allow that rejects media", func(p *v1alpha1.FederationPolicy) {
			p.Spec.Entries[0].Action = v1alpha1.ActionAllow
			p.Spec.Entries[0].RejectMedia = ptr.To(true)
		}, "rejectMedia and rejectReports make no sense on an allow entry"),
		Entry("source with url and policyRef", func(p *v1alpha1.FederationPolicy) {
			p.Spec.Sources[0].PolicyRef = &v1alpha1.PolicyReference{Namespace: "hillside", Name: "shared"}
		}, "set exactly one of url"),
		Entry("source with neither", func(p *v1alpha1.FederationPolicy) {
			p.Spec.Sources[0].URL = ""
			p.Spec.Sources[0].Format = ""
		}, "set exactly one of url"),
		Entry("url source without a format", func(p *v1alpha1.FederationPolicy) { p.Spec.Sources[0].Format = "" }, "format is required with url"),
		Entry("policyRef source with a format", func(p *v1alpha1.FederationPolicy) {
			p.Spec.Sources[0].URL = ""
			p.Spec.Sources[0].PolicyRef = &v1alpha1.PolicyReference{Namespace: "hillside", Name: "shared"}
		}, "format applies only to url sources"),
		Entry("unknown feed format", func(p *v1alpha1.FederationPolicy) { p.Spec.Sources[0].Format = "xml" }, "spec.sources[0].format", "Unsupported value"),
		Entry("url that is not http", func(p *v1alpha1.FederationPolicy) { p.Spec.Sources[0].URL = "ftp://example.org/list.csv" }, "must be an http(s) URL"),
		Entry("weight above 100", func(p *v1alpha1.FederationPolicy) { p.Spec.Sources[0].Weight = ptr.To[int32](101) }, "less than or equal to 100"),
		Entry("negative weight", func(p *v1alpha1.FederationPolicy) { p.Spec.Sources[0].Weight = ptr.To[int32](-1) }, "greater than or equal to 0"),
		Entry("maxAction allow", func(p *v1alpha1.FederationPolicy) {
			p.Spec.Sources[0].MaxAction = v1alpha1.ActionCap(v1alpha1.ActionAllow)
		}, "spec.sources[0].maxAction", "Unsupported value"),
		Entry("refresh every minute", func(p *v1alpha1.FederationPolicy) {
			p.Spec.Sources[0].RefreshInterval = &metav1.Duration{Duration: time.Minute}
		}, "and at least 5m"),
		Entry("source name with capitals", func(p *v1alpha1.FederationPolicy) { p.Spec.Sources[0].Name = "IFTAS" }, "must be a lower-case DNS label"),
		Entry("duplicate source names", func(p *v1alpha1.FederationPolicy) {
			p.Spec.Sources = append(p.Spec.Sources, p.Spec.Sources[0])
		}, "Duplicate value"),
		Entry("two threshold kinds", func(p *v1alpha1.FederationPolicy) {
			p.Spec.Consensus = &v1alpha1.Consensus{Threshold: &v1alpha1.Threshold{Weight: ptr.To[int32](2), Count: ptr.To[int32](2)}}
		}, "set exactly one of weight, count or percent"),
		Entry("empty threshold", func(p *v1alpha1.FederationPolicy) {
			p.Spec.Consensus = &v1alpha1.Consensus{Threshold: &v1alpha1.Threshold{}}
		}, "set exactly one of weight, count or percent"),
		Entry("percent above 100", func(p *v1alpha1.FederationPolicy) {
			p.Spec.Consensus = &v1alpha1.Consensus{Threshold: &v1alpha1.Threshold{Percent: ptr.To[int32](120)}}
		}, "less than or equal to 100"),
		Entry("unknown merge rule", func(p *v1alpha1.FederationPolicy) {
			p.Spec.Consensus = &v1alpha1.Consensus{Merge: "average"}
		}, "spec.consensus.merge", "Unsupported value"),
		Entry("exception that is not a domain", func(p *v1alpha1.FederationPolicy) {
			p.Spec.Exceptions = []v1alpha1.Domain{"friends"}
		}, "must be a lower-case DNS name"),
		Entry("shrink percent above 100", func(p *v1alpha1.FederationPolicy) {
			p.Spec.Retraction = &v1alpha1.RetractionSpec{MaxShrinkPercent: 150}
		}, "less than or equal to 100"),
		Entry("unknown visibility", func(p *v1alpha1.FederationPolicy) {
			p.Spec.Publish = &v1alpha1.PublishSpec{Visibility: "secret"}
		}, "spec.publish.visibility", "Unsupported value"),
		// Issue 12 case 5: this typo was admitted, selected nothing, and
		// the empty policy retracted every block of the namespace.
		Entry("selector In without values", func(p *v1alpha1.FederationPolicy) {
			p.Spec.InstanceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn}}}
		}, "In and NotIn need at least one value"),
		Entry("selector Exists with values", func(p *v1alpha1.FederationPolicy) {
			p.Spec.InstanceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpExists, Values: []string{"gold"}}}}
		}, "Exists and DoesNotExist take no values"),
		Entry("selector with an unknown operator", func(p *v1alpha1.FederationPolicy) {
			p.Spec.InstanceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Equals", Values: []string{"gold"}}}}
		}, "operator must be In, NotIn, Exists or DoesNotExist"),
	)

	It("admits a valid FederationPolicy with defaults filled", func() {
		p := basePolicy(ns, "valid")
		p.Spec.Sources = append(p.Spec.Sources, v1alpha1.PolicySource{Name: "hillside", PolicyRef: &v1alpha1.PolicyReference{Namespace: "hillside", Name: "shared"}})
		p.Spec.Consensus = &v1alpha1.Consensus{Threshold: &v1alpha1.Threshold{Weight: ptr.To[int32](2)}}
		p.Spec.Retraction = &v1alpha1.RetractionSpec{}
		p.Spec.Publish = &v1alpha1.PublishSpec{}
		Expect(k8sClient.Create(ctx, p)).To(Succeed())
		Expect(*p.Spec.Sources[1].Weight).To(Equal(int32(1)))
		Expect(p.Spec.Consensus.Merge).To(Equal(v1alpha1.MergeMax))
		Expect(p.Spec.Retraction.MinCleanFetches).To(Equal(int32(2)))
		Expect(p.Spec.Retraction.MaxShrinkPercent).To(Equal(int32(20)))
		Expect(p.Spec.Publish.Visibility).To(Equal(v1alpha1.VisibilityCluster))
	})

	DescribeTable("Community create is refused",
		func(mutate func(*v1alpha1.Community), fragments ...string) {
			c := baseCommunity(uniqueName("val"))
			mutate(c)
			expectRejected(c, fragments...)
		},
		Entry("a system namespace", func(c *v1alpha1.Community) { c.Spec.Namespace = "kube-system" }, "a community cannot use a system namespace"),
		Entry("a namespace that is not a DNS label", func(c *v1alpha1.Community) { c.Spec.Namespace = "River_Side" }, "must be a lower-case DNS label"),
		Entry("an unknown role", func(c *v1alpha1.Community) { c.Spec.Members[0].Role = "owner" }, "spec.members[0].role", "Unsupported value"),
		Entry("an unknown subject kind", func(c *v1alpha1.Community) { c.Spec.Members[0].Kind = "Robot" }, "spec.members[0].kind", "Unsupported value"),
		Entry("a namespace on a user member", func(c *v1alpha1.Community) { c.Spec.Members[0].Namespace = "elsewhere" },
			"namespace is only meaningful for a ServiceAccount member"),
		Entry("the same member twice", func(c *v1alpha1.Community) {
			c.Spec.Members = append(c.Spec.Members, v1alpha1.CommunityMember{Kind: v1alpha1.SubjectUser, Name: "alice@example.org", Role: v1alpha1.RoleViewer})
		}, "Duplicate value"),
		Entry("a negative instance quota", func(c *v1alpha1.Community) {
			c.Spec.Quota = &v1alpha1.CommunityQuota{Instances: ptr.To[int32](-1)}
		}, "greater than or equal to 0"),
	)

	It("refuses to move a Community to another namespace", func() {
		c := baseCommunity(uniqueName("move"))
		c.Spec.Namespace = uniqueName("movens")
		Expect(k8sClient.Create(ctx, c)).To(Succeed())
		base := c.DeepCopy()
		c.Spec.Namespace = uniqueName("elsewhere")
		err := k8sClient.Patch(ctx, c, client.MergeFrom(base))
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want Invalid, got %v", err)
		Expect(err.Error()).To(ContainSubstring("namespace cannot be changed once set"))
	})

	It("admits a valid Community with a quota", func() {
		c := baseCommunity(uniqueName("ok"))
		c.Spec.Quota = &v1alpha1.CommunityQuota{Instances: ptr.To[int32](5), Storage: ptr.To(resource.MustParse("200Gi"))}
		Expect(k8sClient.Create(ctx, c)).To(Succeed())
	})
})
