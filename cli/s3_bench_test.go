package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// Uploads and downloads through Hangar on an S3 bucket against a direct
// minio-go client of the same server (versitygw on loopback), in one run:
//
//	PATH=$PATH:~/.cache/hangar-tools go test ./cli -run '^$' -bench BenchmarkS3 -benchtime 3x
//
// upload: a multipart POST of 256 MiB to the workspace API (streamed to
// the bucket while hashed, then copied to its address) against PutObject
// of the same bytes; download: a public link's GET (counted, 302 to
// Hangar's signed URL, 302 to a presigned URL, the bytes from the store)
// against a presigned GET straight from the store.
func BenchmarkS3(b *testing.B) {
	s3, bucket := testBucket(b)
	base, stderr, stop := startServeWithB(b, filepath.Join(b.TempDir(), "data"), "max_upload_size = \"8GiB\"\n"+onS3(bucket))
	defer stop()
	admin := firstToken(b, stderr.String())
	call := func(method, path, ctype string, body io.Reader) *http.Response {
		r, _ := http.NewRequest(method, base+path, body)
		r.Header.Set("Authorization", "Bearer "+admin)
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			b.Fatal(err)
		}
		return resp
	}
	call("POST", "/api/v1/workspace", "application/json", strings.NewReader(`{"slug":"acme"}`)).Body.Close()
	call("POST", "/api/v1/workspace/acme/project", "application/json", strings.NewReader(`{"slug":"app"}`)).Body.Close()
	const size = 256 << 20
	data := make([]byte, size)
	rand.Read(data)
	upload := func(b *testing.B) string {
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		go func() {
			w, _ := mw.CreateFormFile("file", "big.zip")
			w.Write(data)
			mw.Close()
			pw.Close()
		}()
		resp := call("POST", "/api/v1/workspace/acme/project/app/build", mw.FormDataContentType(), pr)
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			b.Fatalf("upload: %d %s", resp.StatusCode, out)
		}
		return regexp.MustCompile(`"fileId":"([^"]+)"`).FindStringSubmatch(string(out))[1]
	}
	// What the downloads read, whichever sub-benchmarks run.
	fileID := upload(b)
	if _, err := s3.Client.PutObject(context.Background(), s3.Bucket, "direct/0", bytes.NewReader(data), -1, minio.PutObjectOptions{}); err != nil {
		b.Fatal(err)
	}
	b.Run("upload-hangar", func(b *testing.B) {
		b.SetBytes(size)
		for i := range b.N {
			data[0] = byte(i + 1) // new content: no dedup
			upload(b)
		}
	})
	b.Run("upload-direct", func(b *testing.B) {
		b.SetBytes(size)
		for i := range b.N {
			if _, err := s3.Client.PutObject(context.Background(), s3.Bucket, fmt.Sprint("direct/", i), bytes.NewReader(data), -1,
				minio.PutObjectOptions{PartSize: 16 << 20}); err != nil {
				b.Fatal(err)
			}
		}
	})
	resp := call("POST", "/api/v1/workspace/acme/project/app/build/files/"+fileID+"/public-link", "application/json", strings.NewReader(`{}`))
	link, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	publicURL := regexp.MustCompile(`"publicUrl":"([^"]+)"`).FindStringSubmatch(string(link))[1]
	get := func(b *testing.B, u string) {
		resp, err := http.Get(u)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n != size {
			b.Fatalf("download: %d, %d bytes", resp.StatusCode, n)
		}
	}
	b.Run("download-hangar", func(b *testing.B) {
		b.SetBytes(size)
		for range b.N {
			get(b, publicURL)
		}
	})
	b.Run("download-direct", func(b *testing.B) {
		b.SetBytes(size)
		u, err := s3.Client.PresignedGetObject(context.Background(), s3.Bucket, "direct/0", time.Hour, url.Values{})
		if err != nil {
			b.Fatal(err)
		}
		for range b.N {
			get(b, u.String())
		}
	})
}
