// Package validate checks HTTP requests and responses against an OpenAPI
// 3.0 document: New compiles the document once; Request checks a request
// (security, parameters, body) and says in words what is wrong with it;
// Response checks a response's status, every value of every declared
// header, and its body.
//
// It exists for speed and for words. Speed: each operation's schemas are
// compiled into checkers that read a body once with a streaming tokenizer,
// without decoding it into Go values, and a bounded LRU memo remembers the
// exact bytes of values of component schemas found valid (a user's GET /me
// answer is the same bytes every time), so that the same bytes are not
// checked twice. Words: whatever the fast path refuses is judged again by
// kin-openapi, the reference, whose findings are translated into Problems
// that name the member at fault by a JSON Pointer. With Options.CrossCheck
// (the tests) kin-openapi judges everything too, and any disagreement is
// logged; a fuzz target looks for one.
//
// A document may list, under components.x-response-headers, headers that
// any response may carry besides those its operation declares (a session
// cookie's renewal, a request id), each a $ref of components.headers:
// Response checks them like declared ones, as optional.
//
// The compiled checkers support the keywords they know and refuse to
// compile a schema with any other, so that a new keyword in a document can
// never be silently ignored.
package validate
