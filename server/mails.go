package server

import (
	"bytes"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"

	"hangar/store"
)

// The mails Hangar sends, each as plain text and HTML from one set of
// words. Values are escaped by html/template in the HTML part; the text
// part is plain text, where no value is interpreted.

type mailWords struct {
	Greeting string   // "Hello,"
	Lines    []string // paragraphs before the button
	Notes    string   // a block of text as written (release notes), after Lines
	Action   string   // the button's words
	URL      string   // where it goes (also written out in full)
	After    []string // paragraphs after it (expiry, "ignore this if …")
	// Unsubscribe is a notification's unsubscribe page, linked at the end
	// (and sent as List-Unsubscribe: see composeMail).
	Unsubscribe string
}

var mailText = texttemplate.Must(texttemplate.New("text").Parse(`{{.Greeting}}

{{range .Lines}}{{.}}

{{end}}{{with .Notes}}{{.}}

{{end}}{{.Action}}:
{{.URL}}

{{range .After}}{{.}}

{{end}}{{with .Unsubscribe}}Unsubscribe: {{.}}

{{end}}-- 
Hangar
`))

// The HTML part is made for mail clients: a table layout, inline styles,
// no images or scripts; the link is also written out for clients that
// block buttons.
var mailHTML = htmltemplate.Must(htmltemplate.New("html").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>{{.Action}}</title></head>
<body style="margin:0;padding:0;background:#f4f5f7;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f4f5f7;"><tr><td align="center" style="padding:24px 12px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:520px;background:#ffffff;border-radius:8px;font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#1f2328;font-size:16px;line-height:1.5;">
<tr><td style="padding:20px 24px 0 24px;font-weight:600;font-size:18px;">Hangar</td></tr>
<tr><td style="padding:12px 24px 0 24px;">
<p style="margin:0 0 12px 0;">{{.Greeting}}</p>
{{range .Lines}}<p style="margin:0 0 12px 0;">{{.}}</p>
{{end}}{{with .Notes}}<div style="margin:0 0 12px 0;padding:10px 12px;background:#f4f5f7;border-radius:6px;white-space:pre-wrap;font-size:14px;">{{.}}</div>
{{end}}</td></tr>
<tr><td style="padding:8px 24px 16px 24px;"><a href="{{.URL}}" style="display:inline-block;background:#1f6feb;color:#ffffff;text-decoration:none;font-weight:600;padding:12px 20px;border-radius:6px;">{{.Action}}</a></td></tr>
<tr><td style="padding:0 24px 16px 24px;font-size:13px;color:#57606a;">
<p style="margin:0 0 12px 0;">If the button does not work, open this address:<br><a href="{{.URL}}" style="color:#1f6feb;word-break:break-all;">{{.URL}}</a></p>
{{range .After}}<p style="margin:0 0 12px 0;">{{.}}</p>
{{end}}{{with .Unsubscribe}}<p style="margin:0 0 12px 0;"><a href="{{.}}" style="color:#57606a;">Unsubscribe</a></p>
{{end}}</td></tr>
</table></td></tr></table>
</body></html>
`))

// composeMail renders words into a mail to one address.
func composeMail(to, subject string, w mailWords) store.Mail {
	var text, html bytes.Buffer
	if err := mailText.Execute(&text, w); err != nil {
		panic(err) // the templates are constants over strings
	}
	if err := mailHTML.Execute(&html, w); err != nil {
		panic(err)
	}
	return store.Mail{To: to, Subject: oneLine(subject, store.MaxMailSubject), Text: text.String(), HTML: html.String(), Unsubscribe: w.Unsubscribe}
}

// oneLine makes a value fit a subject: no line breaks, at most n bytes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	return truncate(s, n)
}
