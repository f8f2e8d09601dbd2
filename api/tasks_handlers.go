package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/p2pglance/p2pglance/catalog"
)

// Glance's tasks API filters and sort keys.
var (
	taskStatuses = []string{catalog.TaskPending, catalog.TaskProcessing, catalog.TaskSuccess, catalog.TaskFailure}
	taskTypes    = []string{catalog.TaskTypeImport, catalog.TaskTypeAPIImageImport, catalog.TaskTypeLocationImport}
	taskSortKeys = []string{"id", "type", "status", "owner", "created_at", "updated_at", "expires_at"}
)

const actTasksAPI = "tasks_api_access"

// taskAPI serves Glance's tasks API (/v2/tasks, admin only, with the
// legacy import task) and an image's tasks (/v2/images/{id}/tasks).
type taskAPI struct {
	srv     *Server // the shared core: image visibility
	backend Backend
	quota   *quotas
	log     *slog.Logger
}

var _ Extension = (*taskAPI)(nil)

// Routes are the task routes.
func (ta *taskAPI) Routes() []Route {
	return []Route{
		{Path: "/v2/images/{id}/tasks", Methods: map[string]HandlerFunc{"GET": ta.imageTasks}, Allow: "GET"},
		{Path: "/v2/tasks", Methods: map[string]HandlerFunc{"GET": ta.listTasks, "POST": ta.createTask}, Allow: "GET, POST"},
		{Path: "/v2/tasks/{task}", Methods: map[string]HandlerFunc{"GET": ta.showTask, "DELETE": ta.deleteTask}, Allow: "GET, DELETE"},
	}
}

// tasks returns every stored task, expired ones left out.
func (ta *taskAPI) tasks(ctx context.Context) ([]*catalog.Task, error) {
	docs, err := ta.backend.Docs(ctx, catalog.TaskKind)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]*catalog.Task, 0, len(docs))
	for _, d := range docs {
		t, err := catalog.TaskFromDoc(d)
		if err != nil {
			ta.log.Warn("skipping undecodable task", "task", d.ID, "err", err)
			continue
		}
		if !t.Expired(now) {
			out = append(out, t)
		}
	}
	return out, nil
}

// task returns one task (404 if unknown), syncing once on a miss so a
// task just created through another node is found.
func (ta *taskAPI) task(ctx context.Context, id string) (*catalog.Task, error) {
	d, err := ta.backend.Doc(ctx, catalog.TaskKind, id)
	if errors.Is(err, catalog.ErrNotFound) {
		if err := ta.backend.Sync(ctx); err != nil {
			return nil, err
		}
		d, err = ta.backend.Doc(ctx, catalog.TaskKind, id)
	}
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, &Error{Status: http.StatusNotFound, Explanation: "Could not find task " + id}
	}
	if err != nil {
		return nil, err
	}
	return catalog.TaskFromDoc(d)
}

// showTask serves GET /v2/tasks/{task} (admin only).
func (ta *taskAPI) showTask(w http.ResponseWriter, r *http.Request) error {
	if err := adminOnly(r.Context(), actTasksAPI); err != nil {
		return err
	}
	if err := rejectBody(r); err != nil {
		return err
	}
	t, err := ta.task(r.Context(), mux.Vars(r)["task"])
	if err != nil {
		return err
	}
	return writeRawJSON(w, http.StatusOK, taskJSON(t))
}

// deleteTask serves DELETE /v2/tasks/{task}: always 405, as in Glance.
func (ta *taskAPI) deleteTask(w http.ResponseWriter, r *http.Request) error {
	return &Error{
		Status: http.StatusMethodNotAllowed,
		Explanation: "This operation is currently not permitted on Glance Tasks. " +
			"They are auto deleted after reaching the time based on their expires_at property.",
		Header:   http.Header{"Allow": []string{"GET"}},
		template: "${explanation}",
	}
}

// listTasks serves GET /v2/tasks (admin only): filters status and type,
// sort_key / sort_dir, limit, marker, with first and next links. Like
// Glance, it ignores a request body.
func (ta *taskAPI) listTasks(w http.ResponseWriter, r *http.Request) error {
	if err := adminOnly(r.Context(), actTasksAPI); err != nil {
		return err
	}
	q := r.URL.Query()
	limit := defaultLimit
	if v, ok := last(q, "limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return badRequest("limit param must be an integer")
		}
		if n < 0 {
			return badRequest("limit param must be positive")
		}
		limit = min(n, maxLimit)
	}
	marker, _ := last(q, "marker")
	if marker != "" && !uuidPattern.MatchString(marker) {
		return badRequest("Invalid marker format")
	}
	sortKey := "created_at"
	if v, ok := last(q, "sort_key"); ok {
		if !slices.Contains(taskSortKeys, v) {
			return badRequest("Invalid sort key: %s", v)
		}
		sortKey = v
	}
	desc := true
	if v, ok := last(q, "sort_dir"); ok {
		if v != "asc" && v != "desc" {
			return badRequest("Invalid sort direction: %s", v)
		}
		desc = v == "desc"
	}
	status, _ := last(q, "status")
	if status != "" && !slices.Contains(taskStatuses, status) {
		return badRequest("Invalid status value: %s", status)
	}
	typ, _ := last(q, "type")
	if typ != "" && typ != catalog.TaskTypeImport {
		return badRequest("Invalid type value: %s", typ)
	}
	all, err := ta.tasks(r.Context())
	if err != nil {
		return err
	}
	tasks := slices.DeleteFunc(all, func(t *catalog.Task) bool {
		return (status != "" && t.Status != status) || (typ != "" && t.Type != typ)
	})
	slices.SortFunc(tasks, func(a, b *catalog.Task) int {
		c := cmp.Or(compareTaskKey(sortKey, a, b), a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
		if desc {
			return -c
		}
		return c
	})
	if marker != "" {
		i := slices.IndexFunc(tasks, func(t *catalog.Task) bool { return t.ID == marker })
		if i < 0 {
			return badRequest("Could not find task %s", marker)
		}
		tasks = tasks[i+1:]
	}
	tasks = tasks[:min(limit, len(tasks))]
	var b strings.Builder
	b.WriteString(`{"tasks": [`)
	for i, t := range tasks {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(taskStubJSON(t))
	}
	b.WriteString(`], "first": `)
	b.WriteString(jsonString(PageLink("/v2/tasks", r.URL.RawQuery, "", false)))
	b.WriteString(`, "schema": "/v2/schemas/tasks"`)
	if limit > 0 && len(tasks) == limit {
		b.WriteString(`, "next": `)
		b.WriteString(jsonString(PageLink("/v2/tasks", r.URL.RawQuery, tasks[len(tasks)-1].ID, false)))
	}
	b.WriteString("}")
	return writeRawJSON(w, http.StatusOK, b.String())
}

// compareTaskKey compares two tasks on one sort key.
func compareTaskKey(key string, a, b *catalog.Task) int {
	switch key {
	case "id":
		return cmp.Compare(a.ID, b.ID)
	case "type":
		return cmp.Compare(a.Type, b.Type)
	case "status":
		return cmp.Compare(a.Status, b.Status)
	case "owner":
		return cmp.Compare(a.Owner, b.Owner)
	case "updated_at":
		return a.UpdatedAt.Compare(b.UpdatedAt)
	case "expires_at":
		switch {
		case a.ExpiresAt == nil && b.ExpiresAt == nil:
			return 0
		case a.ExpiresAt == nil:
			return -1
		case b.ExpiresAt == nil:
			return 1
		}
		return a.ExpiresAt.Compare(*b.ExpiresAt)
	}
	return a.CreatedAt.Compare(b.CreatedAt)
}

// imageTasks serves GET /v2/images/{id}/tasks: the image's tasks the
// caller may see (admins all, others their project's), as raw rows.
func (ta *taskAPI) imageTasks(w http.ResponseWriter, r *http.Request) error {
	if err := rejectBody(r); err != nil {
		return err
	}
	img, err := ta.srv.visibleImage(r, mux.Vars(r)["id"], false)
	if err != nil {
		return err
	}
	all, err := ta.tasks(r.Context())
	if err != nil {
		return err
	}
	a := authFrom(r.Context())
	var b strings.Builder
	b.WriteString(`{"tasks": [`)
	first := true
	slices.SortStableFunc(all, func(x, y *catalog.Task) int { return x.CreatedAt.Compare(y.CreatedAt) })
	for _, t := range all {
		if t.ImageID != img.ID || (!a.Admin && t.Owner != "" && t.Owner != a.Project) {
			continue
		}
		if !first {
			b.WriteString(", ")
		}
		first = false
		b.WriteString(taskRowJSON(t))
	}
	b.WriteString("]}")
	return writeRawJSON(w, http.StatusOK, b.String())
}

// createTask serves POST /v2/tasks (admin only): a legacy "import" task
// creates an image from input.image_properties and fills it from
// input.import_from like web-download. 201 with the pending task.
func (ta *taskAPI) createTask(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := adminOnly(ctx, actTasksAPI); err != nil {
		return err
	}
	var doc json.RawMessage
	if err := readJSON(r, &doc); err != nil {
		return err
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(doc, &body); err != nil || body == nil {
		return badRequest("Unexpected body type. Expected dict.")
	}
	for _, k := range []string{"type", "input"} {
		if v, ok := body[k]; !ok || isNull(v) {
			return badRequest("Task '%s' is required", k)
		}
	}
	var typ string
	if err := json.Unmarshal(body["type"], &typ); err != nil || !slices.Contains(taskTypes, typ) {
		return badRequest("Provided object does not match schema 'task': %s is not one of ['import', 'api_image_import', 'location_import']", string(body["type"]))
	}
	if typ != catalog.TaskTypeImport {
		return badRequest("Task type %s cannot be created through this API.", typ)
	}
	var input map[string]json.RawMessage
	if err := json.Unmarshal(body["input"], &input); err != nil || input == nil {
		return badRequest("Provided object does not match schema 'task': input is not of type 'object'")
	}
	var from, format string
	if err := json.Unmarshal(input["import_from"], &from); err != nil || !validImportURI(from) {
		return badRequest("Import from URI %s is not supported: an http or https URL is required.", string(input["import_from"]))
	}
	if !ta.srv.allowedURL(from) {
		return badRequest("Import from URI %s does not pass filtering.", from)
	}
	if err := json.Unmarshal(input["import_from_format"], &format); err != nil || format == "" {
		return badRequest("Input import_from_format is required.")
	}
	var props map[string]json.RawMessage
	if v, ok := input["image_properties"]; ok && !isNull(v) {
		if err := json.Unmarshal(v, &props); err != nil {
			return badRequest("Input image_properties must be an object.")
		}
	}
	img, err := newImageFromProperties(authFrom(ctx), props, format)
	if err != nil {
		return err
	}
	if err := ta.quota.checkImageCount(ctx); err != nil {
		return err
	}
	maxSize, err := ta.quota.importLimit(ctx, 0)
	if err != nil {
		return err
	}
	img, err = ta.backend.CreateImage(ctx, img)
	if err != nil {
		return err
	}
	t := newTask(w, r, catalog.TaskTypeImport, body["input"])
	job := &catalog.ImportJob{
		Task: t, ImageID: img.ID, ImageRevision: img.Revision, Method: catalog.MethodWebDownload, URI: from,
		Stores: []string{catalog.DefaultStore}, AllStoresMustSucceed: true, MaxSize: maxSize,
	}
	if err := ta.backend.StartImport(ctx, job); err != nil {
		return err
	}
	w.Header().Set("Location", baseURL(r)+"/v2/tasks/"+t.ID)
	return writeRawJSON(w, http.StatusCreated, taskJSON(t))
}

// newImageFromProperties builds the queued image of a legacy import task,
// with the checks of image create. disk_format defaults to the task's
// import_from_format and container_format to bare.
func newImageFromProperties(a *Auth, props map[string]json.RawMessage, format string) (*catalog.Image, error) {
	now := time.Now().UTC()
	img := &catalog.Image{
		ID: uuid.NewString(), Status: catalog.StatusQueued, Visibility: catalog.VisibilityShared,
		CreatedAt: now, UpdatedAt: now, Tags: []string{},
	}
	if a.Project != "" {
		p := a.Project
		img.Owner = &p
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch {
		case k == "os_hash_algo" || k == "os_hash_value":
		case k == "locations" || isReserved(k):
			return nil, errReserved(k)
		case readOnlyAttrs[k]:
			return nil, errReadOnly(k)
		default:
			if err := setAttr(a, img, k, props[k]); err != nil {
				return nil, err
			}
		}
	}
	if img.DiskFormat == nil {
		if err := setAttr(a, img, "disk_format", json.RawMessage(jsonString(format))); err != nil {
			return nil, err
		}
	}
	if img.ContainerFormat == nil {
		bare := "bare"
		img.ContainerFormat = &bare
	}
	return img, nil
}

// writeRawJSON writes an already encoded JSON body.
func writeRawJSON(w http.ResponseWriter, status int, body string) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err := w.Write([]byte(body))
	return err
}
