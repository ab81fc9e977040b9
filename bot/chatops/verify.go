package chatops

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/slack-go/slack"
)

// maxAge is how old a signed request may be (both platforms: 5 minutes).
const maxAge = 5 * time.Minute

// maxBody bounds a request body: commands and interactions are small.
const maxBody = 64 << 10

// ErrRefused is a request that is not verifiably the platform's: 401.
var ErrRefused = errors.New("request not verified")

// first reports whether a verified request is new: the store keeps the
// keys of the last two windows' requests, so a captured request sent
// again inside its window is refused, across restarts and instances.
// key names what was verified (requestKey), never the header's text:
// both verifiers read hex in any case, so an upper-cased signature is the
// same request.
func (h *Handler) first(r *http.Request, key string) bool {
	now := time.Now()
	ok, err := h.Router.Desk.FirstRequest(r.Context(), key, now, now.Add(-2*maxAge))
	if err != nil {
		h.Log.Error("checking a chat request for replay; refused", "err", err)
		return false
	}
	return ok
}

// readSlack verifies a Slack request (signing secret v0 over the
// timestamp and the body, the timestamp at most 5 minutes off) and
// returns its body. Time is the wall clock: the platform's.
func (h *Handler) readSlack(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		return nil, fmt.Errorf("%w: body unreadable or too large", ErrRefused)
	}
	sv, err := slack.NewSecretsVerifier(r.Header, h.slackSecret)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	sv.Write(body)
	if err := sv.Ensure(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	if !h.first(r, requestKey("slack", r.Header.Get("X-Slack-Request-Timestamp"), body)) {
		return nil, fmt.Errorf("%w: replayed", ErrRefused)
	}
	return body, nil
}

// readDiscord verifies a Discord interaction (ed25519 over the timestamp
// and the body with the application's key; discordgo checks the
// signature, and the timestamp must be at most 5 minutes old, which
// discordgo does not check) and returns its body.
func (h *Handler) readDiscord(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		return nil, fmt.Errorf("%w: body unreadable or too large", ErrRefused)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if !discordgo.VerifyInteraction(r, h.discordKey) {
		return nil, fmt.Errorf("%w: bad signature", ErrRefused)
	}
	ts, err := strconv.ParseInt(r.Header.Get("X-Signature-Timestamp"), 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)).Abs() > maxAge {
		return nil, fmt.Errorf("%w: timestamp missing or more than 5 minutes off", ErrRefused)
	}
	if !h.first(r, requestKey("discord", r.Header.Get("X-Signature-Timestamp"), body)) {
		return nil, fmt.Errorf("%w: replayed", ErrRefused)
	}
	return body, nil
}

// signedAge is how long ago the request's signed timestamp (header, unix
// seconds) surely was: the platform signs whole seconds, so one second is
// taken off, and a timestamp in the future counts as now. Wall clock: the
// platform's.
func signedAge(r *http.Request, header string) time.Duration {
	ts, err := strconv.ParseInt(r.Header.Get(header), 10, 64)
	if err != nil {
		return 0
	}
	return max(time.Since(time.Unix(ts, 0))-time.Second, 0)
}

// requestKey names a verified request by what its signature covers: the
// platform, the timestamp and the body, hashed. Two requests with the
// same key are one request, however their signature headers are spelt.
func requestKey(platform, ts string, body []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", platform, ts)
	h.Write(body)
	return platform + ":" + hex.EncodeToString(h.Sum(nil))
}

// SignSlack signs a request body as Slack does, for `tocsin chat try` and
// tests: it returns the X-Slack-Request-Timestamp and X-Slack-Signature.
func SignSlack(secret string, body []byte, at time.Time) (ts, sig string) {
	ts = strconv.FormatInt(at.Unix(), 10)
	return ts, "v0=" + hmacHex(secret, "v0:"+ts+":"+string(body))
}

// SignDiscord signs a request body as Discord does: it returns the
// X-Signature-Timestamp and X-Signature-Ed25519.
func SignDiscord(key ed25519.PrivateKey, body []byte, at time.Time) (ts, sig string) {
	ts = strconv.FormatInt(at.Unix(), 10)
	return ts, fmt.Sprintf("%x", ed25519.Sign(key, append([]byte(ts), body...)))
}
