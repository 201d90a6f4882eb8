package cli

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"hangar/config"
	"hangar/server"
)

// serve -lan: the embedded default made to serve a LAN in one flag. Hangar
// listens on every interface (0.0.0.0:8443 unless -listen or the config
// says otherwise), serves HTTPS from its local CA for the machine's name
// and LAN addresses, answers plain HTTP on port 8080 for the trust page
// (phones fetch the CA there first), and names its primary LAN address in
// the URLs it hands out. Without the flag nothing changes: loopback stays
// the default.

const (
	lanListen     = "0.0.0.0:8443"
	lanOnboarding = "0.0.0.0:8080"
)

// applyLAN changes cfg for -lan; listenSet says -listen (or
// HANGAR_LISTEN) chose the address already.
func applyLAN(cfg *config.Config, listenSet bool) {
	if !listenSet && cfg.Listen == config.Default().Listen {
		cfg.Listen = lanListen
	}
	if cfg.TLSMode == "off" || cfg.TLSMode == "" {
		cfg.TLSMode = "local-ca"
		cfg.TLSLANAddresses = true
	}
	if cfg.OnboardingListen == "" && cfg.TLSMode == "local-ca" {
		cfg.OnboardingListen = lanOnboarding
	}
	if host, err := os.Hostname(); err == nil {
		host = strings.ToLower(strings.TrimSuffix(host, "."))
		if host != "" && !strings.ContainsAny(host, " _/") && !slices.Contains(cfg.TLSNames, host) {
			cfg.TLSNames = append(cfg.TLSNames, host)
		}
	}
	if ip, ok := primaryLANAddress(); ok && cfg.PublicURLDerived {
		cfg.PublicHost = ip.String()
	}
}

// primaryLANAddress is the first private IPv4 address of an interface that
// is up (then any global IPv4 one): what phones on the LAN reach. It
// reads the interfaces; it sends nothing.
func primaryLANAddress() (netip.Addr, bool) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return netip.Addr{}, false
	}
	var global netip.Addr
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			p, err := netip.ParsePrefix(a.String())
			if err != nil || !p.Addr().Is4() {
				continue
			}
			ip := p.Addr()
			switch {
			case ip.IsPrivate():
				return ip, true
			case ip.IsGlobalUnicast() && !global.IsValid():
				global = ip
			}
		}
	}
	return global, global.IsValid()
}

// printLAN says, once the server listens, where people go: the console and
// testers' address, and the trust page phones open first.
func printLAN(w io.Writer, cfg config.Config, onboarding string) {
	fmt.Fprintf(w, "\nServing the LAN. Open %s/ (the console; testers' pages are under it).\n", cfg.PublicURL)
	if onboarding != "" {
		_, port, _ := net.SplitHostPort(onboarding)
		host := cfg.PublicHost
		if host == "" {
			host = "localhost"
		}
		trust := "http://" + net.JoinHostPort(host, port) + "/trust"
		fmt.Fprintf(w, "Phones first open %s to trust this server's CA (%s).\n", trust, filepath.Join(cfg.DataDir, "tls", "ca.crt"))
		if onTerminal(w) {
			fmt.Fprintln(w, "Or scan this with the phone's camera:")
			if err := server.TerminalQR(w, trust); err != nil {
				fmt.Fprintln(w, err)
			}
		}
	}
	fmt.Fprintln(w)
}

// onTerminal says whether w is a terminal (not a journal or a file).
func onTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
