package keystone

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Validate returns the identity tok names, from the cache or from
// Keystone. Concurrent validations of one token share a single Keystone
// call; a caller whose context ends stops waiting for it (and gets the
// context's error). A token Keystone does not accept is an error wrapping
// ErrTokenInvalid; Keystone trouble wraps ErrUnavailable. The identity
// returned is the caller's to keep.
func (v *Validator) Validate(ctx context.Context, tok string) (*Identity, error) {
	key := keyOf(tok)
	if e, ok := v.cache.get(key, v.now()); ok {
		if e.id == nil {
			return nil, fmt.Errorf("cached refusal: %w", ErrTokenInvalid)
		}
		return e.id.clone(), nil
	}
	ch := v.flight.DoChan(string(key[:]), func() (any, error) {
		return v.validateRemote(context.WithoutCancel(ctx), key, tok)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*Identity).clone(), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// validateRemote asks Keystone about tok and caches the answer (an
// identity until min(expires_at, now+CacheTTL); a refusal briefly).
func (v *Validator) validateRemote(ctx context.Context, key tokenKey, tok string) (*Identity, error) {
	id, expires, err := v.checkToken(ctx, tok)
	now := v.now()
	if errors.Is(err, ErrTokenInvalid) {
		v.cache.put(key, nil, now.Add(min(v.cfg.CacheTTL, refuseTTL)))
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	v.cache.put(key, id, minTime(expires, now.Add(v.cfg.CacheTTL)))
	return id, nil
}

// checkToken validates tok with GET /v3/auth/tokens, authenticated by the
// service token (renewed once if Keystone answers 401 to it).
func (v *Validator) checkToken(ctx context.Context, tok string) (*Identity, time.Time, error) {
	stale := ""
	for attempt := 0; ; attempt++ {
		svc, err := v.serviceToken(ctx, stale)
		if err != nil {
			return nil, time.Time{}, err
		}
		status, _, body, err := v.call(ctx, http.MethodGet, "/v3/auth/tokens?nocatalog", nil,
			http.Header{"X-Auth-Token": {svc}, "X-Subject-Token": {tok}})
		if err != nil {
			return nil, time.Time{}, err
		}
		switch {
		case status == http.StatusOK:
			return v.parseToken(body)
		case status == http.StatusNotFound || status == http.StatusBadRequest:
			return nil, time.Time{}, fmt.Errorf("keystone answered %d: %w", status, ErrTokenInvalid)
		case status == http.StatusUnauthorized && attempt == 0:
			v.log.Debug("keystone refused the service token; logging in again")
			stale = svc
			continue
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			return nil, time.Time{}, fmt.Errorf("validate token: keystone answered %d to service user %q (it needs the admin or service role): %w",
				status, v.cfg.User, ErrUnavailable)
		}
		return nil, time.Time{}, fmt.Errorf("validate token: keystone answered %d: %w", status, ErrUnavailable)
	}
}

// keystoneToken is the part of a Keystone v3 token body we read.
type keystoneToken struct {
	Token struct {
		ExpiresAt time.Time `json:"expires_at"`
		User      struct {
			ID string `json:"id"`
		} `json:"user"`
		Project *struct {
			ID string `json:"id"`
		} `json:"project"`
		Roles []struct {
			Name string `json:"name"`
		} `json:"roles"`
	} `json:"token"`
}

// parseToken turns a validated token body into an identity and its expiry.
func (v *Validator) parseToken(body []byte) (*Identity, time.Time, error) {
	var kt keystoneToken
	if err := json.Unmarshal(body, &kt); err != nil {
		return nil, time.Time{}, fmt.Errorf("decode keystone token: %w: %w", ErrUnavailable, err)
	}
	t := kt.Token
	if t.ExpiresAt.IsZero() {
		return nil, time.Time{}, fmt.Errorf("keystone token has no expires_at: %w", ErrUnavailable)
	}
	if !v.now().Before(t.ExpiresAt) {
		return nil, time.Time{}, fmt.Errorf("token expired at %s: %w", t.ExpiresAt.Format(time.RFC3339), ErrTokenInvalid)
	}
	names := make([]string, 0, len(t.Roles))
	for _, r := range t.Roles {
		names = append(names, r.Name)
	}
	id := &Identity{User: t.User.ID, Roles: expandRoles(names)}
	if t.Project != nil {
		id.Project = t.Project.ID
	}
	// Glance's image rules are project-scoped: a domain- or system-scoped
	// admin token is not an image admin.
	id.Admin = id.Project != "" && slices.Contains(id.Roles, "admin")
	return id, t.ExpiresAt, nil
}

// impliedRoles are Keystone's default implied roles (keystone-manage
// bootstrap creates them): admin ⇒ member ⇒ reader.
var impliedRoles = map[string]string{"admin": "member", "member": "reader"}

// expandRoles lower-cases roles (as Glance does) and adds the implied
// ones, in case a deployment lacks the inference rules.
func expandRoles(roles []string) []string {
	out := make([]string, 0, len(roles)+2)
	for _, r := range roles {
		for r = strings.ToLower(strings.TrimSpace(r)); r != "" && !slices.Contains(out, r); r = impliedRoles[r] {
			out = append(out, r)
		}
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
