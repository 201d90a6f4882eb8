package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// viewAll renders a list through view. The result is never nil, so that an
// empty list is [] in JSON, not null.
func viewAll[T, V any](in []T, view func(T) V) []V {
	out := make([]V, 0, len(in))
	for _, v := range in {
		out = append(out, view(v))
	}
	return out
}

// writeJSON writes v as the JSON body with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// decodeJSON reads one JSON object from the request body into v. Unknown
// fields, trailing data and malformed JSON are 400s with a message that says
// what is wrong; a body over max_request_body (the route's limit, set in
// dispatch) is a 413.
func decodeJSON(r *http.Request, v any) error { return decodeJSONStrict(r, v, true) }

// decodeLenientJSON is decodeJSON that ignores unknown fields: for bodies
// written for Applivery, whose clients send fields Hangar has no use for.
func decodeLenientJSON(r *http.Request, v any) error { return decodeJSONStrict(r, v, false) }

func decodeJSONStrict(r *http.Request, v any, strict bool) error {
	dec := json.NewDecoder(r.Body)
	if strict {
		dec.DisallowUnknownFields()
	}
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("unexpected data after the JSON object")
	}
	if err == nil {
		return nil
	}
	var tooBig *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		return err
	case errors.Is(err, io.EOF):
		return errBadRequest("request body must be a JSON object")
	case errors.As(err, &typeErr):
		return errBadRequest(fmt.Sprintf("field %q must be of type %s", typeErr.Field, typeErr.Type))
	default:
		return errBadRequest("malformed JSON: " + err.Error())
	}
}

// decodeOptionalJSON is decodeJSON for bodies that may be empty.
func decodeOptionalJSON(r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	return decodeJSON(r, v)
}
