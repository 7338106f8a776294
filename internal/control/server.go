package control

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// The pod's side of the protocol: how its control port answers. The pod (internal/podrun)
// holds the state; these are the rules every handler of the port follows.

// QueryRunID names the run of a GET (/probe/<n>, /report), which has no body to carry it.
const QueryRunID = "runID"

// maxRequest bounds the body of a control call a pod reads.
const maxRequest = 64 << 10

// RequireToken serves next to the bearer of token only. Any other call, to an unknown
// path too, gets the same bare 401 before any routing, so a caller without the token
// learns nothing (not the paths, not the run id); refused, when set, is told of it first.
func RequireToken(token string, refused func(*http.Request), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !Authorized(r, token) {
			if refused != nil {
				refused(r)
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="streamreplay"`)
			Reply(w, http.StatusUnauthorized, "unauthorized")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Reply answers with a line of plain text.
func Reply(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}

// AllowMethod answers 405 to a call made with another method than method.
func AllowMethod(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method {
		return true
	}
	w.Header().Set("Allow", method)
	Reply(w, http.StatusMethodNotAllowed, "use "+method)
	return false
}

// DecodeRequest reads the JSON body of a POST into v; otherwise it has answered 405 or 400.
func DecodeRequest(w http.ResponseWriter, r *http.Request, v any) bool {
	if !AllowMethod(w, r, http.MethodPost) {
		return false
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxRequest)).Decode(v); err != nil {
		Reply(w, http.StatusBadRequest, "bad request body: "+err.Error())
		return false
	}
	return true
}

// SameRun answers 409 to a call for another run than the pod's. Only an authenticated
// caller gets this far, yet the answer still names neither run id.
func SameRun(w http.ResponseWriter, got, pods string) bool {
	if got == pods {
		return true
	}
	Reply(w, http.StatusConflict, "the run id does not match this pod's run")
	return false
}

// Validate names what is wrong with a request.
func (r StartRequest) Validate() error {
	if r.StartTime.IsZero() {
		return errors.New("startTime is missing")
	}
	return nil
}

// ProbeIndex reads n from the path /probe/<n>.
func ProbeIndex(path string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimPrefix(path, PathProbe+"/"))
	return n, err == nil && n >= 0
}
