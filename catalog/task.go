package catalog

import (
	"encoding/json"
	"fmt"
	"time"
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
func TaskFromDoc(d *Doc) (*Task, error) {
	var t Task
	if err := json.Unmarshal(d.Body, &t); err != nil {
		return nil, fmt.Errorf("decode task %s: %w", d.ID, err)
	}
	return &t, nil
}

// Doc encodes the task as a catalog document.
func (t *Task) Doc() (*Doc, error) {
	body, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("encode task %s: %w", t.ID, err)
	}
	return &Doc{Kind: TaskKind, ID: t.ID, Owner: t.Owner, Body: body, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}, nil
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

// Expired reports whether a finished task is past its expiry.
func (t *Task) Expired(now time.Time) bool { return t.ExpiresAt != nil && t.ExpiresAt.Before(now) }
