package agent

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Bucket is where an Instance's backups are: a bucket and a prefix in it,
// with a client that reaches it.
type Bucket struct {
	client *minio.Client
	Name   string
	// Prefix is the directory of the backups in the bucket, without a
	// trailing "/" ("" for the bucket's top).
	Prefix string
}

// BucketConfig is spec.backup.destination.s3 with its credentials.
type BucketConfig struct {
	Endpoint, Bucket, Prefix, Region string
	AccessKeyID, SecretAccessKey     string
	// Transport, when set, is used for the HTTP requests (tests).
	Transport http.RoundTripper
}

// OpenBucket checks cfg and builds a client for it. It does not reach the
// endpoint.
func OpenBucket(cfg BucketConfig) (*Bucket, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.User != nil {
		return nil, fmt.Errorf("S3 endpoint %q is not a base URL such as https://s3.eu-west-1.amazonaws.com", cfg.Endpoint)
	}
	if cfg.Bucket == "" {
		return nil, fmt.Errorf("no S3 bucket given")
	}
	if cfg.AccessKeyID == "" || cfg.SecretAccessKey == "" {
		return nil, fmt.Errorf("no S3 credentials: the Secret named in credentialsSecretRef needs the keys accessKeyID and secretAccessKey")
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != path.Clean("/" + prefix)[1:] {
		return nil, fmt.Errorf("S3 prefix %q is not a clean relative path", cfg.Prefix)
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKeyID, cfg.SecretAccessKey, ""),
		Secure:    u.Scheme == "https",
		Region:    cfg.Region,
		Transport: cfg.Transport,
		// Bounded retries: a Job that cannot reach its bucket fails and
		// is retried by the Job controller, visibly.
		MaxRetries: 5,
	})
	if err != nil {
		return nil, fmt.Errorf("S3 client for %s: %w", cfg.Endpoint, err)
	}
	return &Bucket{client: c, Name: cfg.Bucket, Prefix: prefix}, nil
}

// dir is the key prefix of backup name, ending in "/".
func (b *Bucket) dir(name string) string {
	if b.Prefix == "" {
		return name + "/"
	}
	return b.Prefix + "/" + name + "/"
}

// root is the key prefix of all backups, "" or ending in "/".
func (b *Bucket) root() string {
	if b.Prefix == "" {
		return ""
	}
	return b.Prefix + "/"
}

// Location is how the logs and messages name a backup: s3://bucket/prefix/name.
func (b *Bucket) Location(name string) string {
	return "s3://" + b.Name + "/" + strings.TrimSuffix(b.dir(name), "/")
}

// list returns the keys (or, when delim, the sub-directories) right under
// prefix, at most limit of them: more is an error, never a silent cut.
func (b *Bucket) list(ctx context.Context, prefix string, recursive bool, limit int) ([]minio.ObjectInfo, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing goroutine when we return early
	var out []minio.ObjectInfo
	for o := range b.client.ListObjects(ctx, b.Name, minio.ListObjectsOptions{Prefix: prefix, Recursive: recursive, MaxKeys: 1000}) {
		if o.Err != nil {
			return nil, fmt.Errorf("listing s3://%s/%s: %w", b.Name, prefix, o.Err)
		}
		if len(out) == limit {
			return nil, fmt.Errorf("s3://%s/%s holds more than %d entries: refusing to go on with a partial listing", b.Name, prefix, limit)
		}
		out = append(out, o)
	}
	return out, nil
}

// exists says whether key is in the bucket.
func (b *Bucket) exists(ctx context.Context, key string) (minio.ObjectInfo, bool, error) {
	info, err := b.client.StatObject(ctx, b.Name, key, minio.StatObjectOptions{})
	if err != nil {
		if r := minio.ToErrorResponse(err); r.Code == minio.NoSuchKey || r.StatusCode == http.StatusNotFound {
			return info, false, nil
		}
		return info, false, fmt.Errorf("reading s3://%s/%s: %w", b.Name, key, err)
	}
	return info, true, nil
}
