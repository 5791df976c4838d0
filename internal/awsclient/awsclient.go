package awsclient

import "net/http"

// Doer sends one request: an *http.Client, or the client the SDK's
// configuration built.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}
