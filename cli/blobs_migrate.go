package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"hangar/blob"
	"hangar/depot"
)

// cmdBlobs runs "hangar blobs migrate -to s3|local": it copies every blob
// from the local directory to the configured bucket, or back, with the
// server stopped (it holds the data directory). Each copy is hashed on the
// way and must have its name's SHA-256; blobs already at the destination
// with their size are skipped, so a migration that was stopped resumes
// where it was. Nothing is removed from the source, and the backend in
// the configuration is the admin's to switch, which the command says only
// once every blob is across.
func cmdBlobs(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "migrate" {
		fmt.Fprintln(stderr, "Usage: hangar blobs migrate -to s3|local [-config FILE]")
		return exitUsage
	}
	c := newAdminCmd("blobs migrate", nil, stdout, stderr)
	to := c.fs.String("to", "", "where the blobs go: `s3` (the [blobs] bucket) or local (the data directory)")
	if err := c.parse(args[1:], 0, ""); err != nil {
		return runAdmin(stderr, err)
	}
	if *to != "s3" && *to != "local" {
		c.fs.Usage()
		return runAdmin(stderr, errUsage)
	}
	err := c.migrate(*to)
	return runAdmin(stderr, err)
}

func (c *adminCmd) migrate(to string) error {
	cfg, err := c.config()
	if err != nil {
		return err
	}
	if cfg.Blobs.Endpoint == "" || cfg.Blobs.Bucket == "" {
		return fmt.Errorf("the [blobs] section must name the bucket (endpoint, bucket) to migrate to or from")
	}
	bucketCfg := cfg
	bucketCfg.Blobs.Backend = "s3"
	bucket, err := openBucket(bucketCfg)
	if err != nil {
		return err
	}
	// The data directory, opened without the bucket: its lock keeps a
	// server away, and its blob directory is one side of the copy.
	d, _, err := c.openLocal(depot.Options{SkipDatabaseCheck: true, S3: nil})
	if err != nil {
		return fmt.Errorf("%w (stop the server first: blobs are migrated offline)", err)
	}
	defer d.Close()
	dir := blob.Dir{Store: d.Blobs()}
	var (
		src, dst blob.Backend = dir, bucket
		open                  = func(ctx context.Context, ref blob.Ref) (io.ReadCloser, error) { return d.Blobs().Open(ref) }
	)
	if to == "local" {
		src, dst = bucket, dir
		open = func(ctx context.Context, ref blob.Ref) (io.ReadCloser, error) {
			r, _, err := bucket.Open(ctx, ref)
			return r, err
		}
	}
	ctx := context.Background()
	var copied, present, failed int
	err = src.Walk(ctx, func(ref blob.Ref, size int64) error {
		if got, err := dst.Stat(ctx, ref); err == nil && got == size {
			present++
			return nil
		} else if err != nil && !errors.Is(err, blob.ErrNotFound) {
			return err
		}
		r, err := open(ctx, ref)
		if err != nil {
			return err
		}
		info, err := dst.Put(ctx, r, 0, nil)
		r.Close()
		switch {
		case err != nil:
			return err
		case info.Ref != ref || info.Size != size:
			// The source's bytes are not what their name says: copied
			// under their own hash, which nothing refers to.
			fmt.Fprintf(c.stdout, "damaged at the source: %s (its bytes hash to %s); run hangar fsck -verify\n", ref, info.Ref)
			failed++
		default:
			copied++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("after %d copied: %w (run the command again: it resumes)", copied, err)
	}
	where := map[string]string{"s3": "the bucket", "local": "the data directory"}[to]
	fmt.Fprintf(c.stdout, "%d blobs copied to %s, %d already there, %d damaged\n", copied, where, present, failed)
	if failed > 0 {
		return errors.New("some blobs could not be copied as they are: the backend was not switched")
	}
	switchTo := map[string]string{"s3": `backend = "s3"`, "local": `backend = "local"`}[to]
	if cfg.Blobs.Backend != to {
		fmt.Fprintf(c.stdout, "every blob is in %s: set %s in the [blobs] section of %s and start Hangar\n", where, switchTo, cfgName(c))
	}
	return nil
}

func cfgName(c *adminCmd) string {
	if *c.cfg == "" {
		return "the configuration"
	}
	return *c.cfg
}
