package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"hangar/blob"
	"hangar/config"
)

// openBucket connects to the configured S3 bucket, or returns nil when
// blobs are local. Credentials come from the environment
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or the credentials file,
// never from the configuration's text, and are never logged.
func openBucket(cfg config.Config) (*blob.S3Store, error) {
	b := cfg.Blobs
	if b.Backend != "s3" {
		return nil, nil
	}
	access, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if access == "" && b.CredentialsFile != "" {
		var err error
		if access, secret, err = readCredentials(b.CredentialsFile); err != nil {
			return nil, err
		}
	}
	if access == "" || secret == "" {
		return nil, fmt.Errorf("blobs: backend \"s3\" needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment, or credentials_file")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return blob.OpenS3(ctx, blob.S3Options{Endpoint: b.Endpoint, Bucket: b.Bucket, Region: b.Region, Prefix: b.Prefix,
		Secure: b.Secure, PathStyle: b.PathStyle, AccessKey: access, SecretKey: secret})
}

// readCredentials reads an AWS-style credentials file: aws_access_key_id
// and aws_secret_access_key lines (its first profile's). A file others may
// read is refused: it holds a secret.
func readCredentials(path string) (access, secret string, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", "", fmt.Errorf("blobs.credentials_file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", "", fmt.Errorf("blobs.credentials_file %s is readable by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	f, err := os.Open(path)
	if err != nil {
		return "", "", fmt.Errorf("blobs.credentials_file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") && access != "" {
			break // the next profile
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "aws_access_key_id":
			access = strings.TrimSpace(v)
		case "aws_secret_access_key":
			secret = strings.TrimSpace(v)
		}
	}
	return access, secret, sc.Err()
}
