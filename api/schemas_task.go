package api

// memberSchemaDoc is glance/api/v2/image_members.py's member schema as
// served (Schema("member").minimal(): name and properties only).
func memberSchemaDoc() schemaObj {
	return schemaObj{
		{"name", "member"},
		{"properties", schemaObj{
			{"member_id", schemaObj{
				{"type", "string"},
				{"description", "An identifier for the image member (tenantId)"},
			}},
			{"image_id", schemaObj{
				{"type", "string"},
				{"description", "An identifier for the image"},
				{"pattern", schemaUUIDPattern},
			}},
			{"created_at", schemaObj{
				{"type", "string"},
				{"description", "Date and time of image member creation"},
			}},
			{"updated_at", schemaObj{
				{"type", "string"},
				{"description", "Date and time of last modification of image member"},
			}},
			{"status", schemaObj{
				{"type", "string"},
				{"description", "The status of this image member"},
				{"enum", schemaStrings("pending", "accepted", "rejected")},
			}},
			{"schema", schemaObj{
				{"readOnly", true},
				{"type", "string"},
			}},
		}},
	}
}

// membersSchemaDoc is CollectionSchema("members").minimal().
func membersSchemaDoc() schemaObj {
	return schemaMinimalCollection("members", memberSchemaDoc())
}

// taskProperties is glance/api/v2/tasks.py's _TASK_SCHEMA; partial drops
// input, result and message, as the task list schema does.
func taskProperties(partial bool) schemaObj {
	all := schemaObj{
		{"id", schemaObj{
			{"description", "An identifier for the task"},
			{"pattern", schemaUUIDPattern},
			{"type", "string"},
		}},
		{"type", schemaObj{
			{"description", "The type of task represented by this content"},
			{"enum", schemaStrings("import", "api_image_import", "location_import")},
			{"type", "string"},
		}},
		{"status", schemaObj{
			{"description", "The current status of this task"},
			{"enum", schemaStrings("pending", "processing", "success", "failure")},
			{"type", "string"},
		}},
		{"input", schemaObj{
			{"description", "The parameters required by task, JSON blob"},
			{"type", schemaNullable("object")},
		}},
		{"result", schemaObj{
			{"description", "The result of current task, JSON blob"},
			{"type", schemaNullable("object")},
		}},
		{"owner", schemaObj{
			{"description", "An identifier for the owner of this task"},
			{"type", "string"},
		}},
		{"message", schemaObj{
			{"description", "Human-readable informative message only included when " +
				"appropriate (usually on failure)"},
			{"type", "string"},
		}},
		{"image_id", schemaObj{
			{"description", "Image associated with the task"},
			{"type", "string"},
		}},
		{"request_id", schemaObj{
			{"description", "Human-readable informative request-id"},
			{"type", "string"},
		}},
		{"user_id", schemaObj{
			{"description", "User associated with the task"},
			{"type", "string"},
		}},
		{"expires_at", schemaObj{
			{"description", "Datetime when this resource would be subject to removal"},
			{"type", schemaNullable("string")},
		}},
		{"created_at", schemaObj{
			{"description", "Datetime when this resource was created"},
			{"type", "string"},
		}},
		{"updated_at", schemaObj{
			{"description", "Datetime when this resource was updated"},
			{"type", "string"},
		}},
		{"self", schemaObj{
			{"readOnly", true},
			{"type", "string"},
		}},
		{"schema", schemaObj{
			{"readOnly", true},
			{"type", "string"},
		}},
	}
	if !partial {
		return all
	}
	out := make(schemaObj, 0, len(all))
	for _, kv := range all {
		switch kv.k {
		case "input", "result", "message":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// taskSchemaDoc is Schema("task").minimal() of the full task schema.
func taskSchemaDoc() schemaObj {
	return schemaObj{{"name", "task"}, {"properties", taskProperties(false)}}
}

// tasksSchemaDoc is CollectionSchema("tasks").minimal() over the partial
// task schema (still named "task").
func tasksSchemaDoc() schemaObj {
	return schemaMinimalCollection("tasks",
		schemaObj{{"name", "task"}, {"properties", taskProperties(true)}})
}
