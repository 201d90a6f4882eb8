package depot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// The first start's credentials (the instance admin's token, the console
// user admin's password) go to a file in the data directory that only
// the service's user reads, and the path to the log: the journal keeps
// what it is given for good. The file goes when admin changes the
// password.

// FirstCredentialsFile is the file's name in the data directory.
const FirstCredentialsFile = "initial-admin-credentials"

// WriteFirstCredentials writes the file (mode 0600) and returns its path.
func (d *Depot) WriteFirstCredentials(token, password string) (string, error) {
	path := filepath.Join(d.cfg.DataDir, FirstCredentialsFile)
	body := fmt.Sprintf("# Hangar's first instance admin, made at the first start.\n# This file is removed when admin changes the password.\nadmin token: %s\nconsole sign-in: user admin, password %s\n", token, password)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	if _, err := f.WriteString(body); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}

// ForgetFirstCredentials removes the file (admin chose a password).
func (d *Depot) ForgetFirstCredentials() {
	err := os.Remove(filepath.Join(d.cfg.DataDir, FirstCredentialsFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		d.log.Error("removing the first start's credentials", "err", err)
	}
}
