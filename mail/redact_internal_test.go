package mail

import (
	"errors"
	"net/textproto"
	"strings"
	"testing"
)

// Refusals that echo the recipient (many servers do; mailpit does not)
// are kept without it, and stay what they were for errors.As.
func TestRedacted(t *testing.T) {
	cause := &textproto.Error{Code: 550, Msg: "5.1.1 <Ann@Example.org>: unknown; ann@example.org"}
	err := error(redacted{cause, "Ann@Example.org"})
	if strings.Contains(strings.ToLower(err.Error()), "ann@") {
		t.Errorf("the text names the recipient: %s", err)
	}
	var te *textproto.Error
	if !errors.As(err, &te) || te.Code != 550 {
		t.Error("the refusal is no longer a 5xx to errors.As")
	}
}
