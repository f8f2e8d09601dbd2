package schema

// memberDoc is glance/api/v2/image_members.py's member schema as
// served (Schema("member").minimal(): name and properties only).
func memberDoc() Object {
	return Object{
		{"name", "member"},
		{"properties", Object{
			{"member_id", Object{
				{"type", "string"},
				{"description", "An identifier for the image member (tenantId)"},
			}},
			{"image_id", Object{
				{"type", "string"},
				{"description", "An identifier for the image"},
				{"pattern", uuidPattern},
			}},
			{"created_at", Object{
				{"type", "string"},
				{"description", "Date and time of image member creation"},
			}},
			{"updated_at", Object{
				{"type", "string"},
				{"description", "Date and time of last modification of image member"},
			}},
			{"status", Object{
				{"type", "string"},
				{"description", "The status of this image member"},
				{"enum", Strings("pending", "accepted", "rejected")},
			}},
			{"schema", Object{
				{"readOnly", true},
				{"type", "string"},
			}},
		}},
	}
}

// membersDoc is CollectionSchema("members").minimal().
func membersDoc() Object {
	return minimalCollection("members", memberDoc())
}

// taskProperties is glance/api/v2/tasks.py's _TASK_SCHEMA; partial drops
// input, result and message, as the task list schema does.
func taskProperties(partial bool) Object {
	all := Object{
		{"id", Object{
			{"description", "An identifier for the task"},
			{"pattern", uuidPattern},
			{"type", "string"},
		}},
		{"type", Object{
			{"description", "The type of task represented by this content"},
			{"enum", Strings("import", "api_image_import", "location_import")},
			{"type", "string"},
		}},
		{"status", Object{
			{"description", "The current status of this task"},
			{"enum", Strings("pending", "processing", "success", "failure")},
			{"type", "string"},
		}},
		{"input", Object{
			{"description", "The parameters required by task, JSON blob"},
			{"type", nullable("object")},
		}},
		{"result", Object{
			{"description", "The result of current task, JSON blob"},
			{"type", nullable("object")},
		}},
		{"owner", Object{
			{"description", "An identifier for the owner of this task"},
			{"type", "string"},
		}},
		{"message", Object{
			{"description", "Human-readable informative message only included when " +
				"appropriate (usually on failure)"},
			{"type", "string"},
		}},
		{"image_id", Object{
			{"description", "Image associated with the task"},
			{"type", "string"},
		}},
		{"request_id", Object{
			{"description", "Human-readable informative request-id"},
			{"type", "string"},
		}},
		{"user_id", Object{
			{"description", "User associated with the task"},
			{"type", "string"},
		}},
		{"expires_at", Object{
			{"description", "Datetime when this resource would be subject to removal"},
			{"type", nullable("string")},
		}},
		{"created_at", Object{
			{"description", "Datetime when this resource was created"},
			{"type", "string"},
		}},
		{"updated_at", Object{
			{"description", "Datetime when this resource was updated"},
			{"type", "string"},
		}},
		{"self", Object{
			{"readOnly", true},
			{"type", "string"},
		}},
		{"schema", Object{
			{"readOnly", true},
			{"type", "string"},
		}},
	}
	if !partial {
		return all
	}
	out := make(Object, 0, len(all))
	for _, kv := range all {
		switch kv.Key {
		case "input", "result", "message":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// taskDoc is Schema("task").minimal() of the full task schema.
func taskDoc() Object {
	return Object{{"name", "task"}, {"properties", taskProperties(false)}}
}

// tasksDoc is CollectionSchema("tasks").minimal() over the partial
// task schema (still named "task").
func tasksDoc() Object {
	return minimalCollection("tasks",
		Object{{"name", "task"}, {"properties", taskProperties(true)}})
}
