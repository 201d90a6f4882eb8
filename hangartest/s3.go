package hangartest

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Server is a real S3 server started for one test.
type S3Server struct {
	Endpoint             string // host:port, plain HTTP
	Bucket               string // made empty for the test
	AccessKey, SecretKey string
	Client               *minio.Client
	// Stop kills the server (an unreachable store).
	Stop func()
}

// Versitygw starts versitygw (posix backend in a temp dir) on loopback with
// an empty bucket, for one test. Without the binary the test is skipped,
// except in CI, where .ci/run installs it and its absence fails.
func Versitygw(t testing.TB) S3Server {
	t.Helper()
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("SKIPPED: no versitygw here (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0; .ci/run installs it)")
		}
		t.Fatal("versitygw is missing: .ci/run installs it")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := S3Server{Endpoint: ln.Addr().String(), Bucket: "builds", AccessKey: "hangar-test", SecretKey: "hangar-test-secret"}
	ln.Close()
	cmd := exec.Command(bin, "--port", srv.Endpoint, "posix", t.TempDir())
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+srv.AccessKey, "ROOT_SECRET_KEY="+srv.SecretKey)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	srv.Stop = func() { once.Do(func() { cmd.Process.Kill(); cmd.Wait() }) }
	t.Cleanup(srv.Stop)
	srv.Client, err = minio.New(srv.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""),
		BucketLookup: minio.BucketLookupPath, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err = srv.Client.MakeBucket(context.Background(), srv.Bucket, minio.MakeBucketOptions{Region: "us-east-1"}); err == nil {
			return srv
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw did not start: %v\n%s", err, out.String())
		}
	}
}
