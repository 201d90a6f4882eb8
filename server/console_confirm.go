package server

import (
	"net/http"
)

// Every console action that cannot be undone asks first, the same way:
// its button is a link to a GET of the action's own address, which shows
// what will happen and a form that posts there (the route's POST does it).
// No script is needed, and a viewer who may not act is refused the page
// as the action.

type confirmView struct {
	What, Button string
	Action, Back string
}

// confirmation is the GET twin of a destructive POST route: describe says
// what the action does to what the path names and where Cancel goes.
func (s *Server) confirmation(title, button string, describe func(c *call) (what, back string)) handler {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		what, back := describe(c)
		s.renderPage(w, r, http.StatusOK, "confirm", title, c, confirmView{What: what, Button: button, Action: r.URL.Path, Back: back})
		return nil
	}
}

// The confirmations, by what they act on.
func (s *Server) confirmTokenRevoke() handler {
	return s.confirmation("Revoke this token?", "Revoke the token", func(c *call) (string, string) {
		return "The token hgr_" + c.params.ByName("prefix") + "_… stops working at once, for every script, job or session that uses it.", "/tokens"
	})
}

func (s *Server) confirmPasswordReset() handler {
	return s.confirmation("Give this user a new password?", "Make a new password", func(c *call) (string, string) {
		return c.params.ByName("username") + "'s password is replaced by a new one, shown to you once; their sessions end at once.", "/users"
	})
}

func (s *Server) confirmTOTPRemove() handler {
	return s.confirmation("Remove your authenticator app?", "Remove the authenticator", func(c *call) (string, string) {
		return "Signing in will no longer ask for its codes (your passkeys, if any, stay). Your recovery codes go too when no second factor is left.", "/account"
	})
}

func (s *Server) confirmPasskeyRemove() handler {
	return s.confirmation("Remove this passkey?", "Remove the passkey", func(c *call) (string, string) {
		return "It can no longer sign you in. Your recovery codes go too when no second factor is left.", "/account"
	})
}

func (s *Server) confirmTesterGroupDelete() handler {
	return s.confirmation("Delete this tester group?", "Delete the group", func(c *call) (string, string) {
		return "The group and its list of addresses are deleted; pages for it no longer let its testers in.", "/w/" + c.ws.Slug + "/testers/" + c.params.ByName("group")
	})
}

func (s *Server) confirmUserDisable() handler {
	return s.confirmation("Disable this user?", "Disable the user", func(c *call) (string, string) {
		return c.params.ByName("username") + " can no longer sign in, and every session and token of theirs stops at once. You can enable them again; their roles stay.", "/users"
	})
}

func (s *Server) confirmUserDelete() handler {
	return s.confirmation("Delete this user?", "Delete the user", func(c *call) (string, string) {
		return c.params.ByName("username") + " is deleted for good, with their roles, sessions and tokens. What they uploaded stays, under their name.", "/users"
	})
}

func (s *Server) confirmInvitationRevoke(back func(c *call) string) handler {
	return s.confirmation("Revoke this invitation?", "Revoke the invitation", func(c *call) (string, string) {
		return "The invitation's link stops working at once.", back(c)
	})
}

func (s *Server) confirmMemberRemove() handler {
	return s.confirmation("Remove this member?", "Remove the member", func(c *call) (string, string) {
		return c.params.ByName("id") + " loses their role in " + c.ws.Slug + " at once: its builds, pages and this workspace's rights stop working for them.", "/w/" + c.ws.Slug + "/members"
	})
}

func (s *Server) confirmServiceAccountRemove() handler {
	return s.confirmation("Remove this service account?", "Remove the service account", func(c *call) (string, string) {
		return "The service account leaves " + c.ws.Slug + " and its tokens stop working here at once; it is deleted with its tokens if this was its only workspace.", "/w/" + c.ws.Slug + "/members"
	})
}

func (s *Server) confirmAppTokenRevoke() handler {
	return s.confirmation("Revoke this app token?", "Revoke the app token", func(c *call) (string, string) {
		return "The app token hgr_" + c.params.ByName("prefix") + "_… stops working at once: CI jobs that use it can no longer upload to " + c.proj.Slug + ".", s.settingsPath(c)
	})
}

func (s *Server) confirmDeviceRemove() handler {
	return s.confirmation("Remove this device?", "Remove the device", func(c *call) (string, string) {
		return "Device " + c.params.ByName("udid") + " and what it reported are removed from " + c.ws.Slug + "'s list (it may register again).", "/w/" + c.ws.Slug + "/devices"
	})
}

func (s *Server) confirmWebhookDelete() handler {
	return s.confirmation("Delete this webhook?", "Delete the webhook", func(c *call) (string, string) {
		return "The webhook, its delivery log and the deliveries still waiting are deleted.", s.webhooksBase(c) + "/" + c.params.ByName("webhookId")
	})
}

func (s *Server) confirmDistributionDelete() handler {
	return s.confirmation("Delete this distribution?", "Delete the distribution", func(c *call) (string, string) {
		back := "/w/" + c.ws.Slug + "/p/" + c.proj.Slug + "/d/" + c.params.ByName("distId")
		return "The page and its download log are deleted: its address and QR code stop working for testers.", back
	})
}

func (s *Server) confirmFileDelete() handler {
	return s.confirmation("Delete this file?", "Delete the file", func(c *call) (string, string) {
		return "The file is deleted for good, and the links to it stop working.", buildPath(c, c.params.ByName("buildId"))
	})
}

func (s *Server) confirmLinkDeactivate() handler {
	return s.confirmation("Deactivate this link?", "Deactivate the link", func(c *call) (string, string) {
		return "The link stops working for testers at once, and cannot be turned on again (make a new one instead).", buildPath(c, c.params.ByName("buildId"))
	})
}
