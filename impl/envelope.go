package impl

import (
	"strconv"
	"strings"

	"github.com/oapi-codegen/nullable"

	"meapi/gen"
	"meapi/impl/timestamp"
	"meapi/store"
)

// The envelope's arrays are always present and never null: these are the
// empty ones.
var (
	noErrors   = []gen.Error{}
	noAttempts = []map[string]any{}
)

// clientSession is the session member of every envelope: the caller's
// browser session as it stands now. A sign-in names its user by id; the
// users themselves are in GET /session's data.
func (st *requestState) clientSession() gen.ClientSession {
	cs := gen.ClientSession{
		SigninAttempts: noAttempts,
		SignupAttempts: noAttempts,
		Signins:        []gen.Signin{},
		ActiveSignin:   nullable.NewNullNullable[gen.NullableSignin](),
	}
	active := st.session.Active()
	if active == nil {
		return cs
	}
	cs.Signins = make([]gen.Signin, 0, len(st.session.Signins))
	for _, si := range st.session.Signins {
		g := gen.Signin{Id: si.ID, UserId: si.User.ID, CreatedAt: timestamp.Of(si.CreatedAt)}
		cs.Signins = append(cs.Signins, g)
		if si.ID == active.ID {
			cs.ActiveSignin.Set(gen.NullableSignin(g))
		}
	}
	return cs
}

// activeUser returns the user the request acts on, or nil.
func (st *requestState) activeUser() *store.User {
	if a := st.session.Active(); a != nil {
		return &a.User
	}
	return nil
}

// replaceUser puts u in place of its older copy in the session, so that
// the envelope of an update shows the user after it.
func (st *requestState) replaceUser(u *store.User) {
	if st.session == nil {
		return
	}
	for i := range st.session.Signins {
		if st.session.Signins[i].User.ID == u.ID {
			st.session.Signins[i].User = *u
		}
	}
}

func apiUser(u *store.User) gen.User {
	return gen.User{
		Id:               u.ID,
		Email:            gen.Email(u.Email),
		Username:         nullableString(u.Username),
		FirstName:        nullableString(u.FirstName),
		LastName:         nullableString(u.LastName),
		ImageUrl:         nullableString(u.ImageURL),
		PhoneNumber:      nullableString(u.PhoneNumber),
		TwoFactorEnabled: u.TwoFactorEnabled,
		EmailVerified:    u.EmailVerified,
		PhoneVerified:    u.PhoneVerified,
		CreatedAt:        timestamp.Of(u.CreatedAt),
		UpdatedAt:        timestamp.Of(u.UpdatedAt),
	}
}

func nullableString(p *string) nullable.Nullable[string] {
	if p == nil {
		return nullable.NewNullNullable[string]()
	}
	return nullable.NewNullableWithValue(*p)
}

func userEnvelope(st *requestState, status gen.UserEnvelopeStatus, u *store.User) gen.UserEnvelope {
	return gen.UserEnvelope{
		Status:  status,
		Message: "",
		Data:    apiUser(u),
		Session: st.clientSession(),
		Errors:  noErrors,
	}
}

// etag is the entity tag of a user at its current version: strong, and
// naming the user so that a tag of one account never matches another.
func etag(u *store.User) string {
	return `"` + u.ID + "." + strconv.FormatInt(u.Version, 10) + `"`
}

// ifMatchVersions reads an If-Match header (RFC 9110, section 13.1.1: "*"
// or a comma-separated list of entity tags) for the user with this id. It
// returns the versions of that user whose entity tags the header names,
// compared as exact strings (the strong comparison, section 8.8.3.2), and
// anyVersion for "*". A weak tag never matches; neither does a tag of
// another user, nor anything that is not the very tag the server sends for
// a version ("user_x.07" is not "user_x.7"). A header that is not a list
// of entity tags matches nothing.
func ifMatchVersions(header, userID string) (versions []int64, anyVersion bool) {
	versions = []int64{}
	if strings.TrimSpace(header) == "*" {
		return nil, true
	}
	for rest := header; ; {
		rest = strings.TrimLeft(rest, " \t,")
		if rest == "" {
			return versions, false
		}
		weak := strings.HasPrefix(rest, "W/")
		if weak {
			rest = rest[2:]
		}
		if !strings.HasPrefix(rest, `"`) {
			return []int64{}, false
		}
		end := strings.IndexByte(rest[1:], '"')
		if end < 0 {
			return []int64{}, false
		}
		tag := rest[:end+2]
		rest = rest[end+2:]
		if weak {
			continue
		}
		id, ver, ok := strings.Cut(tag[1:len(tag)-1], ".")
		if !ok || id != userID {
			continue
		}
		v, err := strconv.ParseInt(ver, 10, 64)
		if err == nil && v > 0 && strconv.FormatInt(v, 10) == ver {
			versions = append(versions, v)
		}
	}
}
