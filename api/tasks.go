package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/p2pglance/p2pglance/raftfsm"
)

// TaskKind is the catalog document kind that holds tasks.
const TaskKind = "task"

// Task statuses.
const (
	TaskPending    = "pending"
	TaskProcessing = "processing"
	TaskSuccess    = "success"
	TaskFailure    = "failure"
)

// Task types.
const (
	// TaskTypeImport is the legacy tasks API import (POST /v2/tasks).
	TaskTypeImport = "import"
	// TaskTypeAPIImageImport is an interoperable import
	// (POST /v2/images/{id}/import).
	TaskTypeAPIImageImport = "api_image_import"
	// TaskTypeLocationImport is Glance's location import (not run here).
	TaskTypeLocationImport = "location_import"
)

// TaskTTL is how long a finished task stays listed (Glance's
// task_time_to_live, 48 hours).
const TaskTTL = 48 * time.Hour

// Task is a Glance task as stored in a catalog document (kind TaskKind).
type Task struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Status    string          `json:"status"`
	Owner     string          `json:"owner,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	Result    map[string]any  `json:"result,omitempty"`
	Message   string          `json:"message,omitempty"`
	ImageID   string          `json:"image_id,omitempty"`
	RequestID string          `json:"request_id,omitempty"`
	UserID    string          `json:"user_id,omitempty"`
	ExpiresAt *time.Time      `json:"expires_at,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`

	// Runner is the id of the node running the task, Method the import
	// method and Target the image it imports into. Never shown.
	Runner string `json:"runner,omitempty"`
	Method string `json:"method,omitempty"`
	Target string `json:"target,omitempty"`
}

// TaskFromDoc decodes a task document.
func TaskFromDoc(d *raftfsm.Doc) (*Task, error) {
	var t Task
	if err := json.Unmarshal(d.Body, &t); err != nil {
		return nil, fmt.Errorf("decode task %s: %w", d.ID, err)
	}
	return &t, nil
}

// Doc encodes the task as a catalog document.
func (t *Task) Doc() (*raftfsm.Doc, error) {
	body, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("encode task %s: %w", t.ID, err)
	}
	return &raftfsm.Doc{Kind: TaskKind, ID: t.ID, Owner: t.Owner, Body: body, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}, nil
}

// Finished reports whether the task has succeeded or failed.
func (t *Task) Finished() bool { return t.Status == TaskSuccess || t.Status == TaskFailure }

// Finish ends the task with status (TaskSuccess or TaskFailure), as
// Glance's task.succeed / task.fail do: it expires TaskTTL later.
func (t *Task) Finish(status, message string, result map[string]any, now time.Time) {
	t.Status, t.Message, t.Result = status, message, result
	exp := now.Add(TaskTTL)
	t.ExpiresAt = &exp
	t.UpdatedAt = now
}

// expired reports whether a finished task is past its expiry.
func (t *Task) expired(now time.Time) bool { return t.ExpiresAt != nil && t.ExpiresAt.Before(now) }

// newTask is a pending task of the caller, tied to this response's
// request id.
func (s *Server) newTask(w http.ResponseWriter, r *http.Request, typ string, input json.RawMessage) *Task {
	a := authFrom(r.Context())
	now := time.Now().UTC()
	return &Task{
		ID: uuid.NewString(), Type: typ, Status: TaskPending, Owner: a.Project, Input: input,
		RequestID: w.Header().Get("X-Openstack-Request-Id"), UserID: a.User, CreatedAt: now, UpdatedAt: now,
	}
}

// importTaskInput is the input Glance records for an api_image_import
// task.
func importTaskInput(imageID string, req json.RawMessage, stores []string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"image_id": imageID, "import_req": req, "backend": stores})
	return b
}

func nullableString(s string) string {
	if s == "" {
		return "null"
	}
	return jsonString(s)
}

// taskJSON renders a task as GET /v2/tasks/{id} shows it.
func taskJSON(t *Task) string {
	o := newObject()
	o.str("id", t.ID)
	o.raw("input", pyJSON(t.Input))
	o.str("type", t.Type)
	o.str("status", t.Status)
	// owner is a string even without a project (noauth): Glance's column is
	// NOT NULL and its task schema says "string"; null fails glanceclient.
	o.str("owner", t.Owner)
	o.str("message", t.Message)
	o.raw("result", pyJSONValue(t.Result))
	if t.ImageID != "" {
		o.str("image_id", t.ImageID)
	}
	if t.RequestID != "" {
		o.str("request_id", t.RequestID)
	}
	if t.UserID != "" {
		o.str("user_id", t.UserID)
	}
	if t.ExpiresAt != nil {
		o.str("expires_at", glanceTime(*t.ExpiresAt))
	}
	o.str("created_at", glanceTime(t.CreatedAt))
	o.str("updated_at", glanceTime(t.UpdatedAt))
	o.str("self", "/v2/tasks/"+t.ID)
	o.str("schema", "/v2/schemas/task")
	return o.close()
}

// taskStubJSON renders a task as GET /v2/tasks lists it.
func taskStubJSON(t *Task) string {
	o := newObject()
	o.str("id", t.ID)
	o.str("type", t.Type)
	o.str("status", t.Status)
	o.str("owner", t.Owner)
	if t.ExpiresAt != nil {
		o.str("expires_at", glanceTime(*t.ExpiresAt))
	}
	o.str("created_at", glanceTime(t.CreatedAt))
	o.str("updated_at", glanceTime(t.UpdatedAt))
	o.str("self", "/v2/tasks/"+t.ID)
	o.str("schema", "/v2/schemas/task")
	return o.close()
}

// rowTime formats a time as Python's datetime.isoformat() of a naive UTC
// value, as Glance's raw task rows show it.
func rowTime(t *time.Time) string {
	if t == nil {
		return "null"
	}
	u := t.UTC()
	if u.Nanosecond()/1000 == 0 {
		return jsonString(u.Format("2006-01-02T15:04:05"))
	}
	return jsonString(u.Format("2006-01-02T15:04:05.000000"))
}

// taskRowJSON renders a task as a raw database row, the way
// GET /v2/images/{id}/tasks shows it.
func taskRowJSON(t *Task) string {
	o := newObject()
	o.str("id", t.ID)
	o.str("type", t.Type)
	o.str("status", t.Status)
	o.str("owner", t.Owner)
	o.raw("expires_at", rowTime(t.ExpiresAt))
	o.raw("created_at", rowTime(&t.CreatedAt))
	o.raw("updated_at", rowTime(&t.UpdatedAt))
	o.raw("deleted_at", "null")
	o.bool("deleted", false)
	o.raw("image_id", nullableString(t.ImageID))
	o.raw("request_id", nullableString(t.RequestID))
	o.raw("user_id", nullableString(t.UserID))
	o.raw("input", pyJSON(t.Input))
	o.raw("result", pyJSONValue(t.Result))
	o.str("message", t.Message)
	return o.close()
}
