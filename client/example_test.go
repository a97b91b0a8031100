package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/herald-msg/herald/client"
)

// A backend sends a verification code to one user and tells bad input apart from other
// failures.
func Example() {
	herald := fakeHerald() // in production: the Herald's base URL, such as https://herald.example.com
	defer herald.Close()

	c := client.New(herald.URL, client.WithAPIKey("hk_k1_s3cret"))
	res, err := c.Send(context.Background(), client.SendInput{
		AppID:          "app-1",
		TemplateID:     "verification-code",
		RuleID:         "sms-then-push",
		UserIDs:        []string{"u1"},
		Variables:      map[string]any{"code": "424242"},
		IdempotencyKey: "login-7781", // a retried call sends once
	})
	switch {
	case client.IsCode(err, client.CodeBadInput):
		var e *client.Error
		_ = errors.As(err, &e)
		log.Printf("fix %s: %s", e.Field, e.Message)
		return
	case err != nil:
		log.Print(err)
		return
	}
	fmt.Println("task", res.Task.ID, res.Task.Status)
	for _, m := range res.Messages {
		fmt.Println(m.UserID, m.Channel, m.Status, m.ID)
	}
	// Output:
	// task 0000001a RUNNING
	// u1 SMS QUEUED 20261127-0000001a-0000000-1
}

// fakeHerald answers every request with the send result of Example.
func fakeHerald() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"data":{"send":{"task":{"id":"0000001a","status":"RUNNING"},
		  "messages":[{"id":"20261127-0000001a-0000000-1","userId":"u1","channel":"SMS","status":"QUEUED"}],"rejected":[]}}}`)
	}))
}
