package impl

import (
	"net/url"
	"slices"
	"strings"

	"meapi/gen"
)

// The rules here are the ones openapi.yaml states in words because JSON
// Schema cannot say them; the validator has already enforced the rest.

// reservedUsernames are refused case-insensitively, so that nobody can
// pass for the service or its staff. openapi.yaml lists the same names in
// the Username schema's description; a test keeps the two in step.
var reservedUsernames = []string{
	"admin", "administrator", "api", "auth", "help", "me", "meapi", "null", "root", "security",
	"session", "signin", "signout", "signup", "staff", "support", "system", "undefined",
}

// cleanName trims a first or last name. The schema already refused control
// characters and values of nothing but white space; Go's idea of white
// space is wider than the schema's pattern, hence the check after trimming.
func cleanName(field, name string, errs *[]gen.Error) string {
	trimmed := strings.TrimSpace(name)
	if trimmed == "" {
		*errs = append(*errs, problem(gen.VALIDATIONERROR, "/"+field, field+" must contain something other than white space"))
	}
	return trimmed
}

func checkUsername(username string, errs *[]gen.Error) {
	if slices.Contains(reservedUsernames, strings.ToLower(username)) {
		*errs = append(*errs, problem(gen.VALIDATIONERROR, "/username", "username "+username+" is reserved"))
	}
}

// checkImageURL adds to the schema's https pattern what it cannot check:
// that the URL parses, names a host, and carries no credentials (which
// every viewer of the avatar would be sent).
func checkImageURL(raw string, errs *[]gen.Error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Scheme != "https" || u.Opaque != "":
		*errs = append(*errs, problem(gen.VALIDATIONERROR, "/image_url", "image_url must be an absolute https URL"))
	case u.Hostname() == "":
		*errs = append(*errs, problem(gen.VALIDATIONERROR, "/image_url", "image_url must name a host"))
	case u.User != nil:
		*errs = append(*errs, problem(gen.VALIDATIONERROR, "/image_url", "image_url must not contain a user name or password"))
	}
}
