package impl

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/cors"
	"golang.org/x/net/idna"

	"meapi/gen"
	"meapi/impl/rules"
)

// ParseTrustedOrigin reads one origin of --trusted-origins and returns it
// as browsers send it in Origin: both checks compare that header with the
// trusted origins byte for byte, so an origin kept in any other form would
// never match. The browser's form (the WHATWG URL standard's serialization)
// is scheme://host[:port] with a lower-case scheme and host, no path, no
// port when it is the scheme's default (443 for https, 80 for http), a
// Unicode host in its A-labels (xn--…), and an IPv6 address compressed.
// What can be put in that form is; what no browser could send (a port out
// of range or empty, an IPv4 address written other than as four decimal
// numbers) is refused, saying which form is wanted.
//
// A wildcard is refused: the standard library's cross-origin check reads
// "*" literally and go-chi/cors reads it as "any", so the two would
// disagree about every subdomain; each origin is to be listed.
func ParseTrustedOrigin(s string) (string, error) {
	const want = "want scheme://host[:port] as a browser sends it in Origin, e.g. https://app.example.com or http://localhost:5173"
	if strings.Contains(s, "*") {
		return "", fmt.Errorf("trusted origin %q: a wildcard would trust every origin it matches, and the cross-origin check and CORS read it differently; list each origin, e.g. https://app.example.com", s)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || u.ForceQuery {
		return "", fmt.Errorf("trusted origin %q: must be scheme://host[:port], e.g. https://app.example.com", s)
	}
	scheme := u.Scheme // url.Parse has made it lower case
	port := u.Port()
	if port == "" && strings.HasSuffix(u.Host, ":") {
		return "", fmt.Errorf("trusted origin %q: the port after the colon is empty; %s", s, want)
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n > 65535 {
			return "", fmt.Errorf("trusted origin %q: port %s is not from 0 to 65535; %s", s, port, want)
		}
		// A browser writes the port as a number, and not at all when it is
		// the scheme's default.
		port = strconv.Itoa(n)
		if scheme == "https" && n == 443 || scheme == "http" && n == 80 {
			port = ""
		}
	}
	host, err := originHost(u)
	if err != nil {
		return "", fmt.Errorf("trusted origin %q: %w; %s", s, err, want)
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}

// originProfile maps a host to ASCII as browsers do (the WHATWG URL
// standard's "domain to ASCII": UTS #46 non-transitional, with the Bidi and
// joiner rules, and without STD3's ASCII rules or the hyphen checks, so that
// my_app.local and r3---sn-x.example stay hosts as they are for a browser).
// The Lookup profile would refuse those.
var originProfile = idna.New(idna.MapForLookup(), idna.StrictDomainName(false), idna.Transitional(false),
	idna.BidiRule(), idna.CheckJoiners(true), idna.CheckHyphens(false))

// originLabel is one label of a host as meapi accepts it in a trusted
// origin, once in ASCII: what real origins use. The other characters the
// URL standard lets through ($, !, …) are refused rather than guessed at.
var originLabel = regexp.MustCompile(`^[a-z0-9_-]+$`)

// originHost is the host of a trusted origin as a browser serializes it.
func originHost(u *url.URL) (string, error) {
	host := u.Hostname()
	if strings.HasPrefix(u.Host, "[") {
		addr, err := netip.ParseAddr(host)
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return "", fmt.Errorf("host [%s] is not an IPv6 address", host)
		}
		if addr.Is4In6() {
			// netip writes these with a dotted IPv4 tail; browsers in hex.
			b := addr.As16()
			return fmt.Sprintf("[::ffff:%x:%x]", uint16(b[12])<<8|uint16(b[13]), uint16(b[14])<<8|uint16(b[15])), nil
		}
		return "[" + addr.String() + "]", nil
	}
	ascii, err := originProfile.ToASCII(host)
	if err != nil {
		return "", fmt.Errorf("host %s is not a domain name a browser accepts (%v)", host, err)
	}
	// A host whose last label is a number is an IPv4 address to a browser,
	// which rewrites 127.1 or 0177.0.0.1 as 127.0.0.1 (or refuses it): only
	// the form it writes itself can match.
	if numeric, canonical := rules.NumericHost(ascii); numeric {
		if !canonical {
			return "", fmt.Errorf("host %s is not an IPv4 address as browsers write it (four decimal numbers from 0 to 255, without leading zeros)", host)
		}
		return ascii, nil
	}
	for _, l := range strings.Split(strings.TrimSuffix(ascii, "."), ".") {
		if !originLabel.MatchString(l) {
			return "", fmt.Errorf("host %s is not a domain name of letters, digits, hyphens, underscores and dots", host)
		}
	}
	return ascii, nil
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
			(!s.trustedOrigins[r.Header.Get("Origin")] || encodedSlash(r) ||
				!slices.Contains(s.allowedMethods(r.URL.Path), r.Header.Get("Access-Control-Request-Method"))) {
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
