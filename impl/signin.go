package impl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"meapi/gen"
	passwords "meapi/impl/password"
	"meapi/impl/rules"
	"meapi/store"
)

// The limit policy is the domain's (impl/rules); these are its names in
// Config.
type (
	SigninLimits = rules.SigninLimits
	SignupLimits = rules.SignupLimits
)

var (
	DefaultSigninLimits = rules.DefaultSigninLimits
	DefaultSignupLimits = rules.DefaultSignupLimits
)

var errInvalidCredentials = newAPIError(http.StatusUnauthorized, gen.INVALIDCREDENTIALS, "", "no account has this identifier and password")

// SignIn answers POST /auth/signin. An unknown account, and a known one
// with the wrong password, are answered alike and in about the same time:
// the password is checked against a dummy hash when there is no account.
func (s *Server) SignIn(ctx context.Context, req gen.SignInRequestObject) (gen.SignInResponseObject, error) {
	st := stateOf(ctx)
	if st.sessionErr != nil {
		return nil, st.sessionErr
	}
	identifier, password, user, err := s.findAccount(ctx, req.Body)
	if err != nil {
		return nil, err
	}
	// The attempt is counted before the password is checked, in one atomic
	// step with the check of the limits, so that no number of concurrent
	// guesses gets past them, on any number of replicas. A right password
	// takes its attempt back, and so does one never checked (a busy server,
	// a client gone); a wrong one leaves it counted.
	now := s.now()
	userID := ""
	if user != nil {
		userID = user.ID
	}
	reservation, err := s.store.ReserveAttempt(ctx, storeLimits(s.limits.For(rules.AccountSubject(userID, identifier), s.limitAddress(st))), now)
	var limited *store.LimitedError
	if errors.As(err, &limited) {
		s.metrics.rateLimited.Inc()
		what := "this account"
		if rules.IsAddress(limited.Subject) {
			what = "this address"
		}
		refusal := limitRefusal(limited, now, "too many failed sign-ins for "+what)
		return gen.SignIn429JSONResponse{SignInRateLimitedJSONResponse: gen.SignInRateLimitedJSONResponse{
			Body:    errorEnvelope(st, refusal.apiError),
			Headers: gen.SignInRateLimitedResponseHeaders{RetryAfter: refusal.retryAfter},
		}}, nil
	}
	if err != nil {
		return nil, err
	}

	hash := ""
	if user != nil {
		hash = user.PasswordHash
	} else if hash, err = s.dummyHash(); err != nil {
		return nil, err
	}
	ok, err := s.passwords.Verify(ctx, hash, password)
	if errors.Is(err, passwords.ErrBusy) {
		// No password was checked: the attempt is taken back, so that a
		// busy server never counts against anyone.
		s.release(ctx, reservation)
		return gen.SignIn503JSONResponse{BusyJSONResponse: s.busy(st)}, nil
	}
	if err != nil {
		// The password was not checked (the client went away while it
		// waited for a slot, say): no wrong guess to count.
		s.release(ctx, reservation)
		return nil, fmt.Errorf("check password: %w", err)
	}
	if user == nil || !ok {
		s.metrics.signinFailures.Inc()
		return gen.SignIn401JSONResponse{InvalidCredentialsJSONResponse: gen.InvalidCredentialsJSONResponse(
			errorEnvelope(st, errInvalidCredentials))}, nil
	}
	// The password was right: the attempt is taken back.
	s.release(ctx, reservation)

	token, tokenHash := newToken()
	sess, err := s.store.SignIn(ctx, user.ID, s.grant(st, tokenHash, now))
	if errors.Is(err, store.ErrTooManySignins) {
		return gen.SignIn400JSONResponse{SignInBadRequestJSONResponse: gen.SignInBadRequestJSONResponse(
			errorEnvelope(st, s.tooManySignins()))}, nil
	}
	if err != nil {
		return nil, err
	}
	st.session = sess
	return userResponse{env: userEnvelope(st, 200, st.activeUser()), setCookie: sessionCookie(token, sess, now)}, nil
}

// findAccount reads a sign-in body and looks up the account it names; user
// is nil when there is none. The identifier has passed the same schema as
// the stored one (an ASCII email or username), and the store folds it the
// same way, so no look-alike of another character can name an account.
func (s *Server) findAccount(ctx context.Context, body *gen.SignInRequest) (identifier, password string, user *store.User, err error) {
	if b, asErr := body.AsSignInWithEmail(); asErr == nil && b.Strategy == gen.PlainEmail {
		identifier, password = string(b.Email), deref(b.Password)
		user, err = s.store.UserByEmail(ctx, identifier)
	} else if b, asErr := body.AsSignInWithUsername(); asErr == nil && b.Strategy == gen.PlainUsername {
		identifier, password = b.Username, deref(b.Password)
		user, err = s.store.UserByUsername(ctx, identifier)
	} else {
		return "", "", nil, errors.New("sign-in: a validated request of no known strategy")
	}
	if errors.Is(err, store.ErrNotFound) {
		return identifier, password, nil, nil
	}
	return identifier, password, user, err
}

func deref[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return string(*p)
}

// storeLimits are the rules' limits as the store counts them.
func storeLimits(ls []rules.Limit) []store.Limit {
	out := make([]store.Limit, len(ls))
	for i, l := range ls {
		out[i] = store.Limit{Subject: l.Subject, Max: l.Max, Window: l.Window}
	}
	return out
}

type refusal struct {
	*apiError
	retryAfter int
}

// limitRefusal is the 429 answer to a limited attempt: Retry-After is the
// seconds until the subject is free again.
func limitRefusal(limited *store.LimitedError, now time.Time, why string) refusal {
	secs := max(int((limited.RetryAt.Sub(now)+time.Second-1)/time.Second), 1)
	return refusal{
		apiError:   newAPIError(http.StatusTooManyRequests, gen.RATELIMITEXCEEDED, "", fmt.Sprintf("%s; try again in %d seconds", why, secs)),
		retryAfter: secs,
	}
}

// busy is the 503 of a password check or hash that found the hashing queue
// full: nothing was written, and the client may try again shortly.
func (s *Server) busy(st *requestState) gen.BusyJSONResponse {
	secs := max(int(s.passwords.RetryAfter()/time.Second), 1)
	ae := newAPIError(http.StatusServiceUnavailable, gen.SERVICEUNAVAILABLE, "",
		fmt.Sprintf("too many passwords are being checked; try again in %d seconds", secs))
	return gen.BusyJSONResponse{Body: errorEnvelope(st, ae), Headers: gen.BusyResponseHeaders{RetryAfter: secs}}
}

// release takes a reservation back. When that fails the caller goes on:
// the attempt stays counted as if it had failed, which only tightens the
// limit.
//
// It runs even when the request's client has gone: an attempt whose answer
// nobody read (a client that timed out while its password was checked) is
// no wrong guess, and left counted it would lock the account out.
func (s *Server) release(ctx context.Context, r store.Reservation) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if err := s.store.ReleaseAttempt(ctx, r); err != nil {
		s.log.WarnContext(ctx, "release an attempt", "err", err)
	}
}

// releaseTimeout bounds a release made for a client that has gone.
const releaseTimeout = 5 * time.Second

func (s *Server) tooManySignins() *apiError {
	return newAPIError(http.StatusBadRequest, gen.TOOMANYSIGNINS, "",
		fmt.Sprintf("this browser already has %d accounts signed in; sign one out first", s.maxSignins))
}

// grant is a sign-in on the caller's browser session, or a new one, with
// a new token and the configured lifetimes.
func (s *Server) grant(st *requestState, tokenHash []byte, now time.Time) store.Grant {
	g := store.Grant{
		TokenHash:       tokenHash,
		Now:             now,
		IdleExpiresAt:   now.Add(s.idleTimeout),
		SigninExpiresAt: now.Add(s.signinLifetime),
		MaxSignins:      s.maxSignins,
	}
	if st.session != nil {
		g.SessionID = st.session.ID
	}
	return g
}

// ParseClientAddressHeader reads --client-address-header: a header name
// (an HTTP token), in its canonical form. A name no header can have would
// never be found, and every client would count as the proxy.
func ParseClientAddressHeader(name string) (string, error) {
	if name != "" && !httpguts.ValidHeaderFieldName(name) {
		return "", fmt.Errorf("client address header %q is not a header name: want an HTTP header name (letters, digits and punctuation such as - or _, no spaces), such as X-Forwarded-For or X-Real-IP", name)
	}
	return http.CanonicalHeaderKey(name), nil
}

// clientAddress is the address the per-address limit counts by: the
// connection's, or the one a trusted proxy put in the configured header.
// IPv6 addresses count by their /64, which one client usually holds whole.
// fellBack says that a header was configured but gave no address, so that
// the connection's (the proxy's) was taken.
func (s *Server) clientAddress(r *http.Request) (addr string, fellBack bool) {
	var ip netip.Addr
	ok := false
	if s.addressHeader != "" {
		if v := r.Header.Values(s.addressHeader); len(v) > 0 {
			// The last entry is the one the trusted proxy added; the ones
			// before it are whatever the client claimed.
			list := strings.Split(v[len(v)-1], ",")
			ip, ok = parseAddressEntry(strings.TrimSpace(list[len(list)-1]))
		}
		fellBack = !ok
	}
	if !ok {
		host, _, splitErr := net.SplitHostPort(r.RemoteAddr)
		if splitErr != nil {
			host = r.RemoteAddr
		}
		var err error
		if ip, err = netip.ParseAddr(host); err != nil {
			return host, fellBack
		}
	}
	ip = ip.Unmap()
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.String(), fellBack
		}
	}
	return ip.String(), fellBack
}

// parseAddressEntry reads one entry of a proxy's address header as proxies
// write it: an address, an address with a port (203.0.113.7:4431, as
// Azure Application Gateway sends), or an IPv6 address in brackets, with a
// port or without ([2001:db8::1]:443, [2001:db8::1]).
func parseAddressEntry(e string) (netip.Addr, bool) {
	if ip, err := netip.ParseAddr(e); err == nil {
		return ip, true
	}
	if ap, err := netip.ParseAddrPort(e); err == nil {
		return ap.Addr(), true
	}
	if inner, ok := strings.CutPrefix(e, "["); ok {
		if inner, ok = strings.CutSuffix(inner, "]"); ok {
			if ip, err := netip.ParseAddr(inner); err == nil && ip.Is6() {
				return ip, true
			}
		}
	}
	return netip.Addr{}, false
}

// limitAddress is the client address a per-address limit counts this
// request by. A request whose configured header gave no address is counted
// in the metrics here, where the fallback matters, and not for the health
// checks a load balancer may send without the header.
func (s *Server) limitAddress(st *requestState) string {
	if st.clientAddrFellBack {
		s.metrics.addressFallbacks.Inc()
	}
	return st.clientAddr
}
