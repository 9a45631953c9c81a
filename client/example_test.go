package client_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/cookiejar"

	"github.com/oapi-codegen/nullable"

	"meapi/client"
)

// This is the README's example. baseURL would be "http://localhost:8080"
// with `make run`; here it is a server the example starts for itself.
func ExampleClientWithResponses() {
	ctx := context.Background()
	jar, _ := cookiejar.New(nil) // keeps __session, as a browser would
	c, err := client.NewClientWithResponses(baseURL, client.WithHTTPClient(&http.Client{Jar: jar}))
	if err != nil {
		log.Fatal(err)
	}

	password := "correct horse battery staple"
	signup, err := c.SignUpWithResponse(ctx, client.SignUpRequest{Email: "ada@example.com", Password: &password})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("sign-up:", signup.StatusCode())

	upd, err := c.UpdateMeWithResponse(ctx, nil, client.UpdateMeRequest{FirstName: nullable.NewNullableWithValue("Ada")})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("first name:", upd.JSON200.Data.FirstName.MustGet())

	// A refusal is typed too: one error per problem, naming its member.
	bad, err := c.UpdateMeWithResponse(ctx, nil, client.UpdateMeRequest{Username: nullable.NewNullableWithValue("no spaces")})
	if err != nil {
		log.Fatal(err)
	}
	e := bad.JSON400.Errors[0]
	fmt.Println("refused:", bad.StatusCode(), e.Code, *e.Field)
	// Output:
	// sign-up: 201
	// first name: Ada
	// refused: 400 VALIDATION_ERROR /username
}
