package schema

import (
	"encoding/json"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/p2pglance/p2pglance/api/schema/schematest"
)

// imageSchema returns a fresh copy of the /v2/schemas/image document
// (objects as map[string]any, arrays as []any).
func imageSchema() map[string]any {
	return ToAny(imageDoc()).(map[string]any)
}

var schemaTestNames = []string{"image", "images", "member", "members", "task", "tasks"}

func schemaTestDoc(t *testing.T, name string) map[string]any {
	t.Helper()
	b, ok := JSON(name)
	if !ok {
		t.Fatalf("JSON(%q) missing", name)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("schema %q is not valid JSON: %v", name, err)
	}
	return doc
}

func TestSchemaDocumentsValid(t *testing.T) {
	for _, name := range schemaTestNames {
		doc := schemaTestDoc(t, name)
		if doc["name"] != name {
			t.Errorf("%s: name = %v", name, doc["name"])
		}
		if _, ok := doc["properties"].(map[string]any); !ok {
			t.Errorf("%s: no properties object", name)
		}
		schemaTestWellFormed(t, name, doc)
		b, _ := JSON(name)
		if strings.Contains(string(b), `":"`) || !strings.HasPrefix(string(b), `{"name": "`+name+`", "properties": {`) {
			t.Errorf("%s: not json.dumps layout: %.60s", name, b)
		}
	}
	if _, ok := JSON("nosuch/image"); ok {
		t.Error("unexpected schema for unknown name")
	}
}

// schemaTestWellFormed checks the draft-4 keywords we use are well formed.
func schemaTestWellFormed(t *testing.T, path string, s map[string]any) {
	t.Helper()
	primitive := []string{"array", "boolean", "integer", "null", "number", "object", "string"}
	if typ, ok := s["type"]; ok {
		var types []any
		switch v := typ.(type) {
		case string:
			types = []any{v}
		case []any:
			types = v
		}
		if len(types) == 0 {
			t.Errorf("%s: bad type %v", path, typ)
		}
		for _, ty := range types {
			if str, _ := ty.(string); !slices.Contains(primitive, str) {
				t.Errorf("%s: bad type %v", path, ty)
			}
		}
	}
	if e, ok := s["enum"]; ok {
		if arr, _ := e.([]any); len(arr) == 0 {
			t.Errorf("%s: bad enum %v", path, e)
		}
	}
	if p, ok := s["pattern"]; ok {
		if str, _ := p.(string); str == "" {
			t.Errorf("%s: bad pattern", path)
		} else if _, err := regexp.Compile(str); err != nil {
			t.Errorf("%s: pattern: %v", path, err)
		}
	}
	for _, k := range []string{"maxLength", "minLength"} {
		if v, ok := s[k]; ok {
			if f, _ := v.(float64); f < 0 || f != math.Trunc(f) {
				t.Errorf("%s: bad %s %v", path, k, v)
			}
		}
	}
	if req, ok := s["required"]; ok {
		for _, r := range req.([]any) {
			if _, ok := r.(string); !ok {
				t.Errorf("%s: bad required %v", path, req)
			}
		}
	}
	if props, ok := s["properties"]; ok {
		for k, v := range props.(map[string]any) {
			sub, ok := v.(map[string]any)
			if !ok {
				t.Errorf("%s.%s: not an object", path, k)
				continue
			}
			schemaTestWellFormed(t, path+"."+k, sub)
		}
	}
	if items, ok := s["items"]; ok {
		schemaTestWellFormed(t, path+"[]", items.(map[string]any))
	}
	switch ap := s["additionalProperties"].(type) {
	case nil, bool:
	case map[string]any:
		schemaTestWellFormed(t, path+".additionalProperties", ap)
	default:
		t.Errorf("%s: bad additionalProperties %v", path, ap)
	}
}

func TestImageSchemaProperties(t *testing.T) {
	s := imageSchema()
	props := s["properties"].(map[string]any)
	// The base set of docs/glance-api-v2.md §6.
	for _, k := range strings.Fields("id name status visibility protected os_hidden checksum os_hash_algo " +
		"os_hash_value owner size virtual_size container_format disk_format created_at updated_at " +
		"tags direct_url min_ram min_disk self file stores schema locations") {
		p, ok := props[k].(map[string]any)
		if !ok {
			t.Errorf("image schema lacks %q", k)
			continue
		}
		if _, isBase := p["is_base"]; isBase {
			t.Errorf("%s: base property tagged is_base", k)
		}
	}
	for _, k := range strings.Fields("status checksum os_hash_algo os_hash_value size virtual_size " +
		"created_at updated_at direct_url self file stores schema") {
		if props[k].(map[string]any)["readOnly"] != true {
			t.Errorf("%s: not readOnly", k)
		}
	}
	for _, k := range strings.Fields("id name visibility protected os_hidden owner container_format disk_format tags min_ram min_disk") {
		if _, ro := props[k].(map[string]any)["readOnly"]; ro {
			t.Errorf("%s: unexpectedly readOnly", k)
		}
	}
	for _, k := range strings.Fields("kernel_id ramdisk_id instance_uuid architecture os_distro os_version " +
		"description cinder_encryption_key_id cinder_encryption_key_deletion_policy") {
		if p, ok := props[k].(map[string]any); !ok || p["is_base"] != false {
			t.Errorf("custom property %q missing or not is_base=false", k)
		}
	}
	for prop, formats := range map[string][]string{"disk_format": DiskFormats, "container_format": ContainerFormats} {
		enum := props[prop].(map[string]any)["enum"].([]any)
		if len(enum) != len(formats)+1 || enum[0] != nil {
			t.Errorf("%s enum = %v", prop, enum)
		}
		for i, f := range formats {
			if enum[i+1] != f {
				t.Errorf("%s enum[%d] = %v, want %q", prop, i+1, enum[i+1], f)
			}
		}
	}
	if ap := s["additionalProperties"].(map[string]any); ap["type"] != "string" || len(ap) != 1 {
		t.Errorf("additionalProperties = %v", ap)
	}
	links, _ := json.Marshal(s["links"])
	if string(links) != `[{"href":"{self}","rel":"self"},{"href":"{file}","rel":"enclosure"},{"href":"{schema}","rel":"describedby"}]` {
		t.Errorf("links = %s", links)
	}
	// imageSchema returns a copy.
	props["name"].(map[string]any)["maxLength"] = 1
	if imageSchema()["properties"].(map[string]any)["name"].(map[string]any)["maxLength"] == 1 {
		t.Error("imageSchema shares state between calls")
	}
}

// schemaTestImage is §2.1's example image, as a client would decode it.
const schemaTestImage = `{"os_distro": "ubuntu", "name": "u22", "disk_format": "qcow2", "container_format": "bare",
 "visibility": "shared", "size": 13167616, "virtual_size": 117440512, "status": "active",
 "checksum": "0123456789abcdef0123456789abcdef", "protected": false, "min_ram": 0, "min_disk": 0,
 "owner": "4f1d2ac2b6a94a3c8e2f0d0a1b2c3d4e", "os_hidden": false, "os_hash_algo": "sha512",
 "os_hash_value": "` + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + `",
 "id": "1bea47ed-f6a9-463b-b423-14b9cca9ad27", "created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-02T03:04:09Z",
 "tags": ["a", "b"], "self": "/v2/images/1bea47ed-f6a9-463b-b423-14b9cca9ad27",
 "file": "/v2/images/1bea47ed-f6a9-463b-b423-14b9cca9ad27/file", "schema": "/v2/schemas/image",
 "kernel_id": null, "hw_disk_bus": "scsi", "os_glance_failed_import": ""}`

func TestImageSchemaAcceptsExample(t *testing.T) {
	var img map[string]any
	if err := json.Unmarshal([]byte(schemaTestImage), &img); err != nil {
		t.Fatal(err)
	}
	s := imageSchema()
	if errs := schematest.Check(s, img); len(errs) > 0 {
		t.Errorf("example image rejected: %v", errs)
	}
	// A freshly created image: nulls everywhere they are allowed.
	fresh := map[string]any{"name": nil, "disk_format": nil, "container_format": nil, "size": nil,
		"virtual_size": nil, "checksum": nil, "os_hash_algo": nil, "os_hash_value": nil, "owner": nil,
		"status": "queued", "visibility": "shared", "min_ram": 0.0, "min_disk": 0.0, "tags": []any{}}
	if errs := schematest.Check(s, fresh); len(errs) > 0 {
		t.Errorf("fresh image rejected: %v", errs)
	}
	for k, v := range map[string]any{"custom": 1.0, "min_ram": nil, "disk_format": "qed",
		"status": "gone", "tags": []any{1.0}, "kernel_id": "nope", "protected": "false"} {
		if errs := schematest.Check(s, map[string]any{k: v}); len(errs) == 0 {
			t.Errorf("%s=%v accepted", k, v)
		}
	}
}

func TestMemberAndTaskSchemas(t *testing.T) {
	member := schemaTestDoc(t, "member")
	m := map[string]any{"member_id": "p2", "image_id": "1bea47ed-f6a9-463b-b423-14b9cca9ad27", "status": "pending",
		"created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-02T03:04:05Z", "schema": "/v2/schemas/member"}
	if errs := schematest.Check(member, m); len(errs) > 0 {
		t.Errorf("member rejected: %v", errs)
	}
	if errs := schematest.Check(member, map[string]any{"status": "maybe"}); len(errs) == 0 {
		t.Error("bad member status accepted")
	}
	task := schemaTestDoc(t, "task")
	tk := map[string]any{"id": "1bea47ed-f6a9-463b-b423-14b9cca9ad27", "type": "import", "status": "pending",
		"input": map[string]any{"import_from": "http://x"}, "result": nil, "owner": "p", "message": "",
		"expires_at": nil, "created_at": "x", "updated_at": "x", "self": "/v2/tasks/x", "schema": "/v2/schemas/task"}
	if errs := schematest.Check(task, tk); len(errs) > 0 {
		t.Errorf("task rejected: %v", errs)
	}
	tasks := schemaTestDoc(t, "tasks")
	items := tasks["properties"].(map[string]any)["tasks"].(map[string]any)["items"].(map[string]any)
	for _, k := range []string{"input", "result", "message"} {
		if _, ok := items["properties"].(map[string]any)[k]; ok {
			t.Errorf("tasks items include %q", k)
		}
	}
	images := schemaTestDoc(t, "images")
	item := images["properties"].(map[string]any)["images"].(map[string]any)["items"].(map[string]any)
	if item["name"] != "image" || item["additionalProperties"].(map[string]any)["type"] != "string" {
		t.Errorf("images items = %v", item["name"])
	}
	for _, name := range []string{"members", "tasks"} {
		links, _ := json.Marshal(schemaTestDoc(t, name)["links"])
		if string(links) != `[{"href":"{schema}","rel":"describedby"}]` {
			t.Errorf("%s links = %s", name, links)
		}
	}
}
