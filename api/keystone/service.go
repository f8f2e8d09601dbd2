package keystone

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// serviceToken returns the service user's token, logging in when there
// is none, it is about to expire, or it is stale (Keystone refused it).
func (v *Validator) serviceToken(ctx context.Context, stale string) (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.svcToken != "" && v.svcToken != stale && v.now().Before(v.svcExpires.Add(-serviceTokenMargin)) {
		return v.svcToken, nil
	}
	v.svcToken = ""
	body, err := json.Marshal(map[string]any{"auth": map[string]any{
		"identity": map[string]any{
			"methods": []string{"password"},
			"password": map[string]any{"user": map[string]any{
				"name": v.cfg.User, "password": v.cfg.Password, "domain": map[string]string{"id": v.cfg.UserDomain},
			}},
		},
		"scope": map[string]any{"project": map[string]any{
			"name": v.cfg.Project, "domain": map[string]string{"id": v.cfg.ProjectDomain},
		}},
	}})
	if err != nil {
		return "", fmt.Errorf("encode service login: %w", err)
	}
	status, hdr, resp, err := v.call(ctx, http.MethodPost, "/v3/auth/tokens?nocatalog", body,
		http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return "", err
	}
	if status != http.StatusCreated {
		return "", fmt.Errorf("log in as service user %q in project %q: keystone answered %d: %w",
			v.cfg.User, v.cfg.Project, status, ErrUnavailable)
	}
	var kt keystoneToken
	if err := json.Unmarshal(resp, &kt); err != nil {
		return "", fmt.Errorf("decode service token: %w: %w", ErrUnavailable, err)
	}
	tok := hdr.Get("X-Subject-Token")
	if tok == "" || kt.Token.ExpiresAt.IsZero() {
		return "", fmt.Errorf("service login: no X-Subject-Token or expires_at: %w", ErrUnavailable)
	}
	v.svcToken, v.svcExpires = tok, kt.Token.ExpiresAt
	v.log.Debug("keystone service token obtained", "user", v.cfg.User, "expires_at", kt.Token.ExpiresAt)
	return tok, nil
}

// call sends one request to Keystone under the configured timeout and
// returns the status, headers and body (at most 1 MiB). Transport
// failures wrap ErrUnavailable.
func (v *Validator) call(ctx context.Context, method, path string, body []byte, hdr http.Header) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, v.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, v.base+path, rd)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("keystone request: %w", err)
	}
	for name := range hdr {
		req.Header.Set(name, hdr.Get(name))
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s%s: %w: %w", method, v.base, strings.SplitN(path, "?", 2)[0], ErrUnavailable, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read keystone answer: %w: %w", ErrUnavailable, err)
	}
	return resp.StatusCode, resp.Header, data, nil
}
