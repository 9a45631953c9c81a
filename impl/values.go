package impl

import (
	"errors"
	"net/http"

	"meapi/gen"
	"meapi/impl/rules"
)

// refusals collects what the domain rules refuse in one request body, one
// entry per member, so that every problem is told at once.
type refusals []gen.Error

func (r *refusals) add(field string, err error) {
	var v *rules.Violation
	msg := "is not valid"
	if errors.As(err, &v) {
		msg = v.Reason
	}
	*r = append(*r, problem(gen.VALIDATIONERROR, "/"+field, field+" "+msg))
}

// name is a first or last name as rules.Name stores it.
func (r *refusals) name(field string) func(string) string {
	return func(v string) string {
		out, err := rules.Name(v)
		if err != nil {
			r.add(field, err)
		}
		return out
	}
}

func (r *refusals) username(v string) string {
	if err := rules.Username(v); err != nil {
		r.add("username", err)
	}
	return v
}

func (r *refusals) imageURL(v string) string {
	if err := rules.ImageURL(v); err != nil {
		r.add("image_url", err)
	}
	return v
}

func (r *refusals) email(v string) string {
	if err := rules.Email(v); err != nil {
		r.add("email", err)
	}
	return v
}

// refusal is the 400 of what was collected, or nil.
func (r refusals) refusal() *apiError {
	if len(r) == 0 {
		return nil
	}
	return &apiError{status: http.StatusBadRequest, errors: r}
}
