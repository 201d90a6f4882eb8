// Command redirect is the reference for bench/run's public-link figure: a
// bare net/http server whose only handler is http.Redirect, on the address
// given as its argument.
package main

import (
	"log"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: redirect ADDR")
	}
	target := "http://" + os.Args[1] + "/dl/AAAAAAAAAAAAAAAAAAAAAA/app.ipa?exp=1800000000&kid=k&sig=s"
	log.Fatal(http.ListenAndServe(os.Args[1], http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target, http.StatusFound)
	})))
}
