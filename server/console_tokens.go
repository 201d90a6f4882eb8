package server

import (
	"net/http"
)

// Every token of the instance (instance admins): sessions, service
// accounts' and app tokens, with their last use; any can be revoked. The
// API's list and revocation (store.AllTokens, RevokeTokenByPrefix).

type tokensPage struct {
	Tokens []tokenView // with their owners
	Self   string      // the prefix of the session viewing the page
}

func (s *Server) tokensPage(w http.ResponseWriter, r *http.Request, c *call) error {
	ts, err := s.store.AllTokens()
	if err != nil {
		return err
	}
	s.renderPage(w, r, http.StatusOK, "tokens", "Tokens", c, tokensPage{Tokens: viewAll(ts, s.owners().view), Self: c.who.token.Prefix})
	return nil
}

func (s *Server) tokenRevoke(w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := c.st().RevokeTokenByPrefix(c.params.ByName("prefix")); err != nil {
		return notFoundAs(err, "token")
	}
	http.Redirect(w, r, "/tokens", http.StatusSeeOther)
	return nil
}
