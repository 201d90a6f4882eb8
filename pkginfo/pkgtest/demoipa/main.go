// Command demoipa writes pkgtest's demo IPA (Demo App 2.4.1 (241),
// com.example.demo, with a CgBI icon and an ad hoc profile) to standard
// output, for scripts that need a real package: scripts/install-page-check.
package main

import (
	"os"

	"hangar/pkginfo/pkgtest"
)

func main() {
	if _, err := os.Stdout.Write(pkgtest.IPA(pkgtest.DemoApp)); err != nil {
		os.Exit(1)
	}
}
