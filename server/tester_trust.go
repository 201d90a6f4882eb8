package server

import (
	"crypto/sha256"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strings"

	"howett.net/plist"

	"hangar/certs"
)

// The trust page (/trust, on the HTTPS listener and the plain-HTTP
// onboarding one) tells a tester how to trust the local CA on the device
// the page was opened on, and serves the CA as a certificate
// (/trust/ca.crt) and an Apple configuration profile
// (/trust/ca.mobileconfig).

type trustSteps struct {
	platform string
	Name     string
	Steps    []template.HTML
	Caveat   string
	primary  *action
}

type trustView struct {
	CA                          bool
	Steps                       []template.HTML
	Caveat                      string
	Primary                     *action
	HTTPS                       string
	Others                      []trustSteps
	Fingerprint, Subject, Until string
	Scope                       string
	Title, Message, Admin       string
}

// trustPlatform is the device a trust page was opened on. iPadOS asks for
// desktop pages with a Mac's User-Agent: it gets the Mac's steps first,
// and the iPhone/iPad ones are one tap away.
func trustPlatform(ua string) string {
	switch {
	case strings.Contains(ua, "iPhone"), strings.Contains(ua, "iPad"), strings.Contains(ua, "iPod"):
		return "ios"
	case strings.Contains(ua, "Android"):
		return "android"
	case strings.Contains(ua, "Macintosh"):
		return "macos"
	case strings.Contains(ua, "Windows"):
		return "windows"
	case strings.Contains(ua, "Linux"), strings.Contains(ua, "X11"):
		return "linux"
	}
	return ""
}

// localCA is the local CA, or nil in the other TLS modes.
func (s *Server) localCA() *certs.LocalCA {
	if s.tls == nil {
		return nil
	}
	return s.tls.CA
}

func (s *Server) trustPage(w http.ResponseWriter, r *http.Request, c *call) error {
	v := trustView{HTTPS: s.httpsURL(r, "/")}
	ca := s.localCA()
	switch {
	case ca != nil:
		v.CA = true
		cert := ca.CA()
		v.Fingerprint = ca.Fingerprint()
		v.Subject = cert.Subject.CommonName
		v.Until = cert.NotAfter.UTC().Format("2 Jan 2006")
		v.Scope = strings.Join(caScope(cert.PermittedDNSDomains, cert.PermittedIPRanges), ", ")
		mine := trustPlatform(r.UserAgent())
		for _, p := range trustGuides {
			if p.platform == mine && v.Steps == nil {
				v.Steps, v.Caveat, v.Primary = p.Steps, p.Caveat, p.primary
				continue
			}
			v.Others = append(v.Others, trustSteps{Name: p.Name, Steps: p.Steps, Caveat: p.Caveat})
		}
		if v.Primary == nil {
			v.Primary = &action{ID: "download-ca", Label: "Download the certificate", URL: "/trust/ca.crt"}
		}
	case s.tls != nil:
		v.Title = "Nothing to install"
		v.Message = "This server's certificate comes from a certificate authority your device already trusts (or one your organization installed): open it over HTTPS and install as usual."
	default:
		v.Title = "This server has no HTTPS yet"
		v.Message = "iPhones and iPads install apps only from an HTTPS address with a certificate they trust. Ask whoever runs Hangar to turn it on; until then, Android phones and computers can still download builds."
		v.Admin = `For the admin: set tls_mode = "local-ca" (and tls_names to the names testers use) in Hangar's configuration and restart. Hangar then makes its own certificate authority, and this page tells testers how to trust it. A certificate of your own (tls_mode = "files") or ACME for a public name work too.`
	}
	return s.renderPublic(w, r, trustPage, v, http.StatusOK, "form-action 'none'")
}

// trustGuides are the steps per platform, as their settings name things
// today. HTML: the steps hold <strong> and <code> only, from constants.
var trustGuides = []trustSteps{
	{platform: "ios", Name: "iPhone and iPad", Steps: []template.HTML{
		"Tap <strong>Download the profile</strong> below (in Safari), then <strong>Allow</strong>.",
		"Open <strong>Settings › General › VPN &amp; Device Management</strong> (on iOS 14 and older: <strong>Profiles</strong>), tap <strong>Hangar</strong> and <strong>Install</strong>.",
		"Open <strong>Settings › General › About › Certificate Trust Settings</strong> and turn on full trust for the <strong>Hangar local CA</strong>.",
		"Come back and open Hangar over HTTPS: <strong>Install</strong> now works.",
	}, primary: &action{ID: "download-profile", Label: "Download the profile", URL: "/trust/ca.mobileconfig"}},
	{platform: "android", Name: "Android", Steps: []template.HTML{
		"Download the certificate below.",
		"Open <strong>Settings › Security &amp; privacy › More security settings › Encryption &amp; credentials › Install a certificate › CA certificate</strong> (the path differs a little between makers: search Settings for <strong>CA certificate</strong>), choose the downloaded file and confirm.",
	}, Caveat: "Chrome then trusts the server's pages. Other apps, and Firefox unless its setting to use third-party CA certificates is on, ignore certificates users add (Android's rule since version 7). Android installs APKs from plain HTTP too, so this step is optional there."},
	{platform: "macos", Name: "Mac", Steps: []template.HTML{
		"Download the certificate below and open it: Keychain Access adds it to your login keychain.",
		"Double-click <strong>Hangar local CA</strong> there, open <strong>Trust</strong> and set <strong>When using this certificate</strong> to <strong>Always Trust</strong>.",
		"Or in Terminal: <code>sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain hangar-ca.crt</code>",
	}, Caveat: "Safari and Chrome use the keychain; Firefox has its own list (Settings › Privacy & Security › Certificates › View Certificates › Authorities › Import)."},
	{platform: "windows", Name: "Windows", Steps: []template.HTML{
		"Download the certificate below and open it, then <strong>Install Certificate… › Current User</strong>.",
		"Choose <strong>Place all certificates in the following store › Trusted Root Certification Authorities</strong> and finish.",
		"Or in a terminal: <code>certutil -user -addstore Root hangar-ca.crt</code>",
	}, Caveat: "Edge and Chrome use the Windows store; Firefox has its own list (Settings › Privacy & Security › Certificates › View Certificates › Authorities › Import)."},
	{platform: "linux", Name: "Linux", Steps: []template.HTML{
		"Download the certificate below.",
		"Debian and Ubuntu: <code>sudo cp hangar-ca.crt /usr/local/share/ca-certificates/ &amp;&amp; sudo update-ca-certificates</code>; Fedora: <code>sudo cp hangar-ca.crt /etc/pki/ca-trust/source/anchors/ &amp;&amp; sudo update-ca-trust</code>.",
	}, Caveat: "Firefox and Chrome keep their own lists on Linux: import the certificate in their settings (Certificates › Authorities) too."},
}

// caCert serves the local CA's certificate (PEM): what Android, desktops
// and curl --cacert take.
func (s *Server) caCert(w http.ResponseWriter, r *http.Request, c *call) error {
	ca := s.localCA()
	if ca == nil {
		return errNotFound("this server has no local certificate authority")
	}
	w.Header().Set("Content-Type", "application/x-x509-ca-cert")
	w.Header().Set("Content-Disposition", `attachment; filename="hangar-ca.crt"`)
	w.Write(ca.CAPEM())
	return nil
}

// caProfile serves the local CA as a configuration profile with one
// com.apple.security.root payload, which iOS, iPadOS and macOS install
// from Settings. Its identifiers come from the CA's fingerprint, so a
// second download replaces the profile instead of adding one.
func (s *Server) caProfile(w http.ResponseWriter, r *http.Request, c *call) error {
	ca := s.localCA()
	if ca == nil {
		return errNotFound("this server has no local certificate authority")
	}
	cert := ca.CA()
	sum := sha256.Sum256(cert.Raw)
	id := fmt.Sprintf("%x", sum[:8])
	profile := map[string]any{
		"PayloadType":         "Configuration",
		"PayloadVersion":      1,
		"PayloadIdentifier":   "hangar.trust." + id,
		"PayloadUUID":         uuidOf(sum[:16]),
		"PayloadDisplayName":  "Hangar",
		"PayloadDescription":  "Trusts this Hangar server's own certificate authority, so that apps can be installed from it over HTTPS. It may vouch only for " + strings.Join(caScope(cert.PermittedDNSDomains, cert.PermittedIPRanges), ", ") + ".",
		"PayloadOrganization": "Hangar",
		"PayloadContent": []any{map[string]any{
			"PayloadType":                "com.apple.security.root",
			"PayloadVersion":             1,
			"PayloadIdentifier":          "hangar.trust." + id + ".ca",
			"PayloadUUID":                uuidOf(sum[16:]),
			"PayloadDisplayName":         cert.Subject.CommonName,
			"PayloadCertificateFileName": "hangar-ca.crt",
			"PayloadContent":             cert.Raw,
		}},
	}
	return s.writeProfile(w, r, "hangar-ca.mobileconfig", profile)
}

// writeProfile serves an Apple configuration profile as the file name,
// not cached (the registration one holds a token, the CA one may change
// with a new CA).
func (s *Server) writeProfile(w http.ResponseWriter, r *http.Request, name string, profile map[string]any) error {
	data, err := plist.MarshalIndent(profile, plist.XMLFormat, "\t")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-apple-aspen-config")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(data)
	return nil
}

func caScope(dns []string, ips []*net.IPNet) []string {
	var scope []string
	for _, d := range dns {
		if d != "invalid" {
			scope = append(scope, d)
		}
	}
	for _, r := range ips {
		scope = append(scope, r.String())
	}
	return scope
}

// uuidOf formats 16 bytes as an upper-case UUID (version 8: custom).
func uuidOf(b []byte) string {
	u := [16]byte(b[:16])
	u[6] = u[6]&0x0f | 0x80
	u[8] = u[8]&0x3f | 0x80
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]))
}

// httpsURL is where this server answers over HTTPS, for path: public_url
// when it was set, else the host the request named with the HTTPS
// listener's port (a tester who typed an address stays on it; the
// certificate covers the machine's addresses).
func (s *Server) httpsURL(r *http.Request, path string) string {
	if !s.cfg.PublicURLDerived {
		return s.cfg.PublicURL + path
	}
	u, err := url.Parse(s.cfg.PublicURL)
	if err != nil || u.Scheme != "https" {
		return s.cfg.PublicURL + path
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(r.Host); err == nil {
		host = h
	}
	if host == "" || !validHost(host) || !s.hosts.known(host, s.now()) {
		return s.cfg.PublicURL + path
	}
	if port := u.Port(); port != "" && port != "443" {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return "https://" + host + path
}
