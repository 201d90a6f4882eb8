package webhook

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"testing"
)

// Before, IPv4 inside IPv6 (NAT64, 6to4, -compatible,
// -translated), a cloud metadata address, 0/8, 240/4 and broadcast all
// passed the guard.
var (
	refusedAlways = []string{
		"127.0.0.1", "::1", "169.254.169.254", "::ffff:127.0.0.1", "fe80::1", "100.100.100.200", "0.0.0.0", "fd00:ec2::254",
		"fd20:ce::254",                            // Google Cloud's metadata over IPv6
		"0.1.2.3", "240.0.0.1", "255.255.255.255", // this network, reserved, broadcast
		"64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", // NAT64 of loopback and of the metadata service
		"64:ff9b:1::1",                     // local-use NAT64
		"::127.0.0.1", "::169.254.169.254", // IPv4-compatible
		"::ffff:0:127.0.0.1", "::ffff:0:a9fe:a9fe", // IPv4-translated
		"2002:7f00:1::1", "2002:a9fe:a9fe::", // 6to4 of loopback and of the metadata service
		"2001:0:4136:e378:8000:63bf:3fff:fdd2", // Teredo
		"224.0.0.1", "ff02::1",
	}
	private = []string{"10.1.2.3", "192.168.1.20", "172.16.0.9", "100.64.0.1", "fd12::1", "64:ff9b::a01:203", "2002:c0a8:114::1", "::ffff:10.0.0.1"}
	public  = []string{"93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "64:ff9b::5db8:d822", "2002:5db8:d822::1"}
)

func TestAllowed(t *testing.T) {
	for _, refusePrivate := range []bool{false, true} {
		for _, a := range refusedAlways {
			if Allowed(netip.MustParseAddr(a), nil, refusePrivate) {
				t.Errorf("%s allowed (refusePrivate %v)", a, refusePrivate)
			}
		}
		for _, a := range private {
			if got := Allowed(netip.MustParseAddr(a), nil, refusePrivate); got == refusePrivate {
				t.Errorf("private %s: allowed %v with refusePrivate %v", a, got, refusePrivate)
			}
		}
		for _, a := range public {
			if !Allowed(netip.MustParseAddr(a), nil, refusePrivate) {
				t.Errorf("%s refused (refusePrivate %v)", a, refusePrivate)
			}
		}
	}
	local := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	for _, a := range []string{"127.0.0.1", "::ffff:127.0.0.1", "64:ff9b::7f00:1"} {
		if !Allowed(netip.MustParseAddr(a), local, true) {
			t.Errorf("webhook_allowed_networks does not allow %s", a)
		}
	}
}

var errWouldDial = errors.New("test: the address passed; not dialled")

// A request to each address goes through the deliverer's own client and
// transport and is refused where the connection is made, after the
// socket exists and before connect: no packet leaves the machine. (An
// address that passes stops there too, with errWouldDial.)
func TestRefusedAddressesRouted(t *testing.T) {
	d := New(Options{})
	check := &net.Dialer{Control: func(network, address string, c syscall.RawConn) error {
		if err := d.control(network, address, c); err != nil {
			return err
		}
		return errWouldDial
	}}
	d.client.Transport.(*http.Transport).DialContext = check.DialContext
	for _, a := range append(append([]string{}, refusedAlways...), public...) {
		u := "http://" + net.JoinHostPort(a, "8080") + "/services/T000/B000/XXXXsecret?token=chat-secret"
		req, _ := http.NewRequest("POST", u, strings.NewReader("{}"))
		_, err := d.client.Do(req)
		wantRefused := !Allowed(netip.MustParseAddr(a), nil, false)
		switch {
		case wantRefused && !errors.Is(err, ErrRefusedAddress):
			t.Errorf("%s: %v, want refused", a, err)
		case !wantRefused && !errors.Is(err, errWouldDial):
			t.Errorf("%s: %v, want it to reach the dial", a, err)
		}
		// What is kept of the failure names no URL and no secret.
		if class := errorClass(err).Error(); strings.Contains(class, "secret") || strings.Contains(class, "/services/") {
			t.Errorf("%s: the kept error carries the URL: %q", a, class)
		}
	}
}
