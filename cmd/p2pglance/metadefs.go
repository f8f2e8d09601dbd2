package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

const metadefsUsage = `usage: p2pglance metadefs load [flags] FILE...

Imports metadata definition namespaces from files in Glance's format (the
etc/metadefs/*.json files: namespace, display_name, description,
visibility, protected, resource_type_associations, properties, objects,
tags) through the Glance API of a running node. A namespace that already
exists is replaced (unprotected first if it is protected).

flags:
`

// runMetadefs runs "p2pglance metadefs ...".
func runMetadefs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "load" {
		fmt.Fprint(stderr, metadefsUsage)
		if len(args) == 0 {
			return errors.New("metadefs: no subcommand given")
		}
		if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			return flag.ErrHelp
		}
		return fmt.Errorf("metadefs: unknown subcommand %q", args[0])
	}
	fs := flag.NewFlagSet("metadefs load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg metadefsLoader
	fs.StringVar(&cfg.node, "node", envOr("P2PGLANCE_NODE", "http://127.0.0.1:9292"), "Glance API URL of a running node")
	fs.StringVar(&cfg.token, "token", os.Getenv("OS_TOKEN"), "Keystone token sent as X-Auth-Token (keystone auth mode)")
	fs.StringVar(&cfg.project, "project", "", "X-Project-Id to act as (noauth mode; none: the noauth admin)")
	fs.StringVar(&cfg.roles, "roles", "", "X-Roles to send with --project (noauth mode), e.g. admin")
	fs.Usage = func() {
		fmt.Fprint(stderr, metadefsUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("metadefs load: no file given")
	}
	return cfg.load(ctx, fs.Args(), stdout)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// metadefsLoader imports metadefs files through a node's API.
type metadefsLoader struct {
	node    string // base URL, e.g. http://127.0.0.1:9292
	token   string
	project string
	roles   string
	client  *http.Client // nil: a client with a 60 s timeout
}

// load imports every file, reporting each on out. A failed file does not
// stop the others; the error says how many failed.
func (l *metadefsLoader) load(ctx context.Context, files []string, out io.Writer) error {
	if l.client == nil {
		l.client = &http.Client{Timeout: 60 * time.Second}
	}
	l.node = strings.TrimRight(l.node, "/")
	failed := 0
	for _, f := range files {
		msg, err := l.loadFile(ctx, f)
		if err != nil {
			failed++
			fmt.Fprintf(out, "%s: FAILED: %v\n", f, err)
			continue
		}
		fmt.Fprintf(out, "%s: %s\n", f, msg)
	}
	if failed > 0 {
		return fmt.Errorf("metadefs load: %d of %d files failed", failed, len(files))
	}
	return nil
}

// loadFile creates (or replaces) the namespace of one file and says what
// it did.
func (l *metadefsLoader) loadFile(ctx context.Context, path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return "", fmt.Errorf("parse %s: %w", path, err)
	}
	var name string
	if err := json.Unmarshal(doc["namespace"], &name); err != nil || name == "" {
		return "", fmt.Errorf("parse %s: no \"namespace\" name", path)
	}
	summary := summarize(doc)
	status, body, err := l.call(ctx, "POST", "/v2/metadefs/namespaces", data)
	if err != nil {
		return "", err
	}
	switch status {
	case http.StatusCreated:
		return fmt.Sprintf("created namespace %s (%s)", name, summary), nil
	case http.StatusConflict:
	default:
		return "", apiError("create namespace "+name, status, body)
	}
	if err := l.remove(ctx, name); err != nil {
		return "", err
	}
	status, body, err = l.call(ctx, "POST", "/v2/metadefs/namespaces", data)
	if err != nil {
		return "", err
	}
	if status != http.StatusCreated {
		return "", apiError("create namespace "+name, status, body)
	}
	return fmt.Sprintf("replaced namespace %s (%s)", name, summary), nil
}

// remove deletes an existing namespace, first clearing its protected
// flag (a PUT that keeps its other attributes).
func (l *metadefsLoader) remove(ctx context.Context, name string) error {
	path := "/v2/metadefs/namespaces/" + url.PathEscape(name)
	status, body, err := l.call(ctx, "GET", path, nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return apiError("get namespace "+name, status, body)
	}
	var cur map[string]any
	if err := json.Unmarshal(body, &cur); err != nil {
		return fmt.Errorf("get namespace %s: %w", name, err)
	}
	if p, _ := cur["protected"].(bool); p {
		upd := map[string]any{"namespace": name, "protected": false}
		for _, k := range []string{"display_name", "description", "visibility", "owner"} {
			if v, ok := cur[k]; ok {
				upd[k] = v
			}
		}
		b, _ := json.Marshal(upd)
		status, body, err := l.call(ctx, "PUT", path, b)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return apiError("unprotect namespace "+name, status, body)
		}
	}
	status, body, err = l.call(ctx, "DELETE", path, nil)
	if err != nil {
		return err
	}
	if status != http.StatusNoContent {
		return apiError("delete namespace "+name, status, body)
	}
	return nil
}

// call sends one request and returns the status and body.
func (l *metadefsLoader) call(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.node+path, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if l.token != "" {
		req.Header.Set("X-Auth-Token", l.token)
	}
	if l.project != "" {
		req.Header.Set("X-Project-Id", l.project)
	}
	if l.roles != "" {
		req.Header.Set("X-Roles", l.roles)
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	return resp.StatusCode, data, nil
}

// apiError describes a refused call with the message of Glance's error
// body.
func apiError(what string, status int, body []byte) error {
	var e struct {
		Message string `json:"message"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		msg = strings.TrimSpace(strings.ReplaceAll(e.Message, "<br /><br />", ""))
	}
	return fmt.Errorf("%s: HTTP %d: %s", what, status, msg)
}

// summarize counts what a namespace file defines.
func summarize(doc map[string]json.RawMessage) string {
	var props map[string]json.RawMessage
	var objects, tags, rts []json.RawMessage
	_ = json.Unmarshal(doc["properties"], &props)
	_ = json.Unmarshal(doc["objects"], &objects)
	_ = json.Unmarshal(doc["tags"], &tags)
	_ = json.Unmarshal(doc["resource_type_associations"], &rts)
	return fmt.Sprintf("%d properties, %d objects, %d tags, %d resource type associations", len(props), len(objects), len(tags), len(rts))
}
