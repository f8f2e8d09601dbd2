package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/p2pglance/p2pglance/catalog"
)

// newTask is a pending task of the caller, tied to this response's
// request id.
func newTask(w http.ResponseWriter, r *http.Request, typ string, input json.RawMessage) *catalog.Task {
	a := authFrom(r.Context())
	now := time.Now().UTC()
	return &catalog.Task{
		ID: uuid.NewString(), Type: typ, Status: catalog.TaskPending, Owner: a.Project, Input: input,
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
func taskJSON(t *catalog.Task) string {
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
func taskStubJSON(t *catalog.Task) string {
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
func taskRowJSON(t *catalog.Task) string {
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
