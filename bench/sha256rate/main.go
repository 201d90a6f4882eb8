// Command sha256rate prints the rate in bytes per second at which Go's
// crypto/sha256 (SHA extensions where the CPU has them, as Hangar's
// uploads) hashes a file, read from the page cache: bench/run's reference
// for uploads.
package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"log"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: sha256rate FILE")
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	start := time.Now()
	n, err := io.CopyBuffer(h, f, buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.0f\n", float64(n)/time.Since(start).Seconds())
}
