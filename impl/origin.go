package impl

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/go-chi/cors"

	"meapi/gen"
)

// ParseTrustedOrigin reads one origin of --trusted-origins and returns it
// as browsers send it in Origin: scheme://host[:port], lower case, with no
// path. A wildcard is refused: the standard library's cross-origin check
// reads "*" literally and go-chi/cors reads it as "any", so the two would
// disagree about every subdomain; each origin is to be listed.
func ParseTrustedOrigin(s string) (string, error) {
	if strings.Contains(s, "*") {
		return "", fmt.Errorf("trusted origin %q: a wildcard would trust every origin it matches, and the cross-origin check and CORS read it differently; list each origin, e.g. https://app.example.com", s)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("trusted origin %q: must be scheme://host[:port], e.g. https://app.example.com", s)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// trustOrigins sets up both checks that read the trusted origins from the
// one set: the cross-origin protection and CORS.
func (s *Server) trustOrigins(origins []string) error {
	for _, o := range origins {
		origin, err := ParseTrustedOrigin(o)
		if err != nil {
			return err
		}
		if err := s.crossOrigin.AddTrustedOrigin(origin); err != nil {
			return fmt.Errorf("trusted origin %q: %w", o, err)
		}
		s.trustedOrigins[origin] = true
	}
	if len(s.trustedOrigins) == 0 {
		return nil
	}
	// A front end on a trusted origin may call the API with the cookie;
	// CORS tells its browser so, on every response (errors included, so
	// that the page can read them) and on preflights.
	s.corsHandler = cors.Handler(cors.Options{
		AllowOriginFunc:  func(_ *http.Request, origin string) bool { return s.trustedOrigins[origin] },
		AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodPatch},
		AllowedHeaders:   []string{"Content-Type", "If-Match"},
		ExposedHeaders:   []string{"ETag", "Retry-After"},
		AllowCredentials: true,
		MaxAge:           600,
	})
	return nil
}

// cors is the CORS layer: nothing without trusted origins. A preflight is
// CORS's to answer only when it comes from a trusted origin and asks for an
// operation openapi.yaml has; any other OPTIONS request goes on like every
// request and gets the declared 404 or 405 (go-chi/cors would answer it a
// bare 200, approving a path that does not exist).
func (s *Server) cors(next http.Handler) http.Handler {
	if s.corsHandler == nil {
		return next
	}
	withCORS := s.corsHandler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" &&
			(!s.trustedOrigins[r.Header.Get("Origin")] || !slices.Contains(s.allowedMethods(r.URL.Path), r.Header.Get("Access-Control-Request-Method"))) {
			next.ServeHTTP(w, r)
			return
		}
		withCORS.ServeHTTP(w, r)
	})
}

// checkOrigin refuses state-changing requests that a browser says come
// from another site (Sec-Fetch-Site, or Origin against Host), unless the
// origin is trusted. Requests from non-browser clients carry neither
// header and pass: they cannot ride on a victim's cookie.
func (s *Server) checkOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.crossOrigin.Check(r); err != nil {
			s.writeError(w, r, newAPIError(http.StatusForbidden, gen.CROSSORIGINREQUEST, "", "state-changing requests from another origin are not allowed"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
