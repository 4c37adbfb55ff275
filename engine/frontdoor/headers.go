package frontdoor

import (
	"net/http"
	"strconv"
	"strings"

	"spillway/engine"
)

// The headers every answer carries, saying what the gateway did: the
// question gateway users ask most is "which deployment served this, and
// why?".
const (
	HeaderRequest    = "X-Spillway-Request"    // the engine's request number, as the dashboard and the record show it
	HeaderTenant     = "X-Spillway-Tenant"     // whose buckets it went through
	HeaderOutcome    = "X-Spillway-Outcome"    // succeeded, rate_limited, failed, cancelled
	HeaderDeployment = "X-Spillway-Deployment" // the deployment that answered, or the last one tried
	HeaderModel      = "X-Spillway-Model"      // that deployment's model id
	HeaderAccount    = "X-Spillway-Account"
	HeaderRegion     = "X-Spillway-Region"   // where the call ran, when the backend says
	HeaderGroups     = "X-Spillway-Groups"   // the groups it entered, in order: "primary, fallback"
	HeaderFallback   = "X-Spillway-Fallback" // "true" when a group after the first answered
	HeaderAttempts   = "X-Spillway-Attempts" // each call and how it ended: "primary-a ThrottlingException, fallback ok"
	HeaderSkipped    = "X-Spillway-Skipped"  // deployments passed over and why: "primary-b budget"
	HeaderReason     = "X-Spillway-Reason"   // why a request was refused or failed, in words
)

// tell writes s's headers.
func tell(h http.Header, s *story) {
	ev := s.final
	if s.request != 0 {
		h.Set(HeaderRequest, strconv.Itoa(s.request))
	}
	if s.tenant != "" {
		h.Set(HeaderTenant, s.tenant)
	}
	if ev.Kind.Final() {
		h.Set(HeaderOutcome, ev.Kind.String())
	}
	if len(s.attempts) > 0 {
		last := s.attempts[len(s.attempts)-1]
		h.Set(HeaderDeployment, last.Deployment)
		h.Set(HeaderModel, last.Model)
		h.Set(HeaderAccount, last.Account)
	}
	if ev.Region != "" {
		h.Set(HeaderRegion, ev.Region)
	}
	if len(s.groups) > 0 {
		h.Set(HeaderGroups, strings.Join(s.groups, ", "))
		h.Set(HeaderFallback, strconv.FormatBool(len(s.groups) > 1))
	}
	if len(s.attempts) > 0 {
		var calls []string
		for _, a := range s.attempts {
			outcome := "ok"
			switch {
			case a.Code != "":
				outcome = a.Code
			case a.Attempt != ev.Attempt || ev.Kind != engine.Succeeded:
				outcome = "no answer"
			}
			calls = append(calls, a.Deployment+" "+outcome)
		}
		h.Set(HeaderAttempts, strings.Join(calls, ", "))
	}
	if len(s.skipped) > 0 {
		var skips []string
		for _, sk := range s.skipped {
			skips = append(skips, sk.Deployment+" "+sk.Reason)
		}
		h.Set(HeaderSkipped, strings.Join(skips, ", "))
	}
	if ev.Kind != engine.Succeeded && ev.Message != "" {
		h.Set(HeaderReason, headerSafe(ev.Message))
	}
}

// headerSafe keeps a message to what a header value may hold.
func headerSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return clip(s)
}
