package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/p2pglance/p2pglance/api/schema"
	"github.com/p2pglance/p2pglance/catalog"
)

// Limits from Glance's defaults.
const (
	maxPropertyCount = 128 // image_property_quota
	maxTagCount      = 128 // image_tag_quota
	maxStringLen     = 255
	maxInt32         = 1<<31 - 1
	// maxPropValueLen caps a custom property's value, in bytes. Glance's
	// schema sets no maxLength; its database column (TEXT) holds 65535.
	maxPropValueLen = 65535
)

var uuidPattern = regexp.MustCompile(`^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$`)

// readOnlyAttrs may never be written by clients, at create or update.
var readOnlyAttrs = map[string]bool{
	"created_at": true, "updated_at": true, "status": true, "checksum": true, "size": true,
	"virtual_size": true, "direct_url": true, "self": true, "file": true, "schema": true,
	"id": true, "os_hash_algo": true, "os_hash_value": true, "stores": true,
}

// reservedAttrs are refused on write as reserved.
var reservedAttrs = map[string]bool{"location": true, "deleted": true, "deleted_at": true}

// baseAttrs are the image's base (non-custom) attributes.
var baseAttrs = map[string]bool{
	"id": true, "name": true, "status": true, "visibility": true, "protected": true, "os_hidden": true,
	"checksum": true, "os_hash_algo": true, "os_hash_value": true, "owner": true, "size": true,
	"virtual_size": true, "min_ram": true, "min_disk": true, "disk_format": true,
	"container_format": true, "created_at": true, "updated_at": true, "tags": true,
	"direct_url": true, "self": true, "file": true, "schema": true, "locations": true, "stores": true,
}

func isReserved(key string) bool {
	return reservedAttrs[key] || strings.HasPrefix(key, "os_glance")
}

func errReadOnly(key string) *Error {
	return &Error{Status: http.StatusForbidden, Explanation: fmt.Sprintf("Attribute '%s' is read-only.", key)}
}

func errReserved(key string) *Error {
	return &Error{Status: http.StatusForbidden, Explanation: fmt.Sprintf("Attribute '%s' is reserved.", key)}
}

// errSchema is Glance's 400 for a value the image schema refuses.
func errSchema(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Explanation: "Provided object does not match schema 'image': " + fmt.Sprintf(format, args...)}
}

func isNull(v json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(v), []byte("null")) }

// shortJSON returns a JSON value's text for a message, cut to 80 bytes.
func shortJSON(raw json.RawMessage) string {
	s := string(bytes.TrimSpace(raw))
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return s
}

func decodeString(key string, v json.RawMessage, nullable bool) (*string, error) {
	if isNull(v) {
		if nullable {
			return nil, nil
		}
		return nil, errSchema("None is not of type 'string' (%s)", key)
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, errSchema("%s is not of type 'string' (%s)", string(v), key)
	}
	if len([]rune(s)) > maxStringLen {
		return nil, errSchema("'%s' is too long (%s)", s, key)
	}
	return &s, nil
}

// decodeCustom decodes a custom property's value: a string, checked
// against the stock schema-image.json entry when the key has one
// (kernel_id and ramdisk_id: UUID or null, stored as ""; the cinder key
// deletion policy: its enum).
func decodeCustom(key string, v json.RawMessage) (*string, error) {
	switch key {
	case "kernel_id", "ramdisk_id":
		if isNull(v) {
			return new(string), nil
		}
		s, err := decodeCustom("", v)
		if err == nil && !uuidPattern.MatchString(*s) {
			err = errSchema("'%s' does not match %s (%s)", *s, jsonString(uuidPattern.String()), key)
		}
		return s, err
	case "cinder_encryption_key_deletion_policy":
		return decodeEnum(key, v, []string{"on_image_deletion", "do_not_delete"}, false)
	}
	var s string
	if isNull(v) || json.Unmarshal(v, &s) != nil {
		return nil, errSchema("%s is not of type 'string' (%s)", shortJSON(v), key)
	}
	if len(s) > maxPropValueLen {
		return nil, errSchema("the value is longer than %d bytes (%s)", maxPropValueLen, key)
	}
	return &s, nil
}

func decodeEnum(key string, v json.RawMessage, values []string, nullable bool) (*string, error) {
	s, err := decodeString(key, v, nullable)
	if err != nil || s == nil {
		return s, err
	}
	if !slices.Contains(values, *s) {
		return nil, errSchema("'%s' is not one of %s (%s)", *s, pyList(values), key)
	}
	return s, nil
}

func pyList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = "'" + v + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func decodeBool(key string, v json.RawMessage) (bool, error) {
	var b bool
	// json.Unmarshal takes null as a no-op; the schema refuses it.
	if err := json.Unmarshal(v, &b); err != nil || isNull(v) {
		return false, errSchema("%s is not of type 'boolean' (%s)", string(v), key)
	}
	return b, nil
}

func decodeInt(key string, v json.RawMessage) (int64, error) {
	var n json.Number
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	// A json.Number also decodes from a JSON string ("5"), which the
	// schema's integer type refuses.
	if err := d.Decode(&n); err != nil || bytes.HasPrefix(bytes.TrimSpace(v), []byte(`"`)) {
		return 0, errSchema("%s is not of type 'integer' (%s)", string(v), key)
	}
	i, err := n.Int64()
	if err != nil {
		return 0, errSchema("%s is not of type 'integer' (%s)", string(v), key)
	}
	if i < 0 {
		return 0, errSchema("%d is less than the minimum of 0 (%s)", i, key)
	}
	if i > maxInt32 {
		return 0, errSchema("%d is greater than the maximum of %d (%s)", i, maxInt32, key)
	}
	return i, nil
}

// setAttr validates value and writes it to attribute key of img, with
// the permissions of a. It is shared by create and PATCH; it does not
// check read-only or reserved keys (callers do, with their own wording).
func setAttr(a *Auth, img *catalog.Image, key string, v json.RawMessage) error {
	switch key {
	case "name":
		s, err := decodeString(key, v, true)
		if err != nil {
			return err
		}
		img.Name = s
	case "visibility":
		s, err := decodeEnum(key, v, []string{"community", "public", "private", "shared"}, false)
		if err != nil {
			return err
		}
		if *s == catalog.VisibilityPublic && !a.Admin {
			return &Error{Status: http.StatusForbidden, Explanation: "You are not authorized to complete publicize_image action."}
		}
		img.Visibility = *s
	case "protected", "os_hidden":
		b, err := decodeBool(key, v)
		if err != nil {
			return err
		}
		if key == "protected" {
			img.Protected = b
		} else {
			img.OSHidden = b
		}
	case "min_ram", "min_disk":
		n, err := decodeInt(key, v)
		if err != nil {
			return err
		}
		if key == "min_ram" {
			img.MinRAM = n
		} else {
			img.MinDisk = n
		}
	case "disk_format", "container_format":
		values := schema.DiskFormats
		if key == "container_format" {
			values = schema.ContainerFormats
		}
		s, err := decodeEnum(key, v, values, true)
		if err != nil {
			return err
		}
		if key == "disk_format" {
			img.DiskFormat = s
		} else {
			img.ContainerFormat = s
		}
	case "owner":
		s, err := decodeString(key, v, true)
		if err != nil {
			return err
		}
		if !a.Admin && (s == nil || *s != a.Project) {
			owner := "None"
			if s != nil {
				owner = *s
			}
			return &Error{Status: http.StatusForbidden, Detail: fmt.Sprintf("You are not permitted to create images owned by '%s'.", owner)}
		}
		img.Owner = s
	case "tags":
		// Decode through *string elements: json.Unmarshal would take a
		// null element as "".
		var elems []*string
		if err := json.Unmarshal(v, &elems); err != nil || elems == nil || slices.Contains(elems, nil) {
			return errSchema("%s is not of type 'array' of strings (tags)", string(v))
		}
		tags := make([]string, len(elems))
		for i, e := range elems {
			tags[i] = *e
		}
		out := make([]string, 0, len(tags))
		for _, t := range tags {
			if len([]rune(t)) > maxStringLen {
				return errSchema("'%s' is too long (tags)", t)
			}
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
		if len(out) > maxTagCount {
			return &Error{Status: http.StatusRequestEntityTooLarge, Explanation: fmt.Sprintf("Maximum number of tags exceeded (%d).", maxTagCount)}
		}
		img.Tags = out
	default:
		if len(key) > maxStringLen {
			return &Error{Status: http.StatusBadRequest, Explanation: "Custom property should not be greater than 255 characters."}
		}
		s, err := decodeCustom(key, v)
		if err != nil {
			return err
		}
		if img.Properties == nil {
			img.Properties = map[string]string{}
		}
		if _, exists := img.Properties[key]; !exists && len(img.Properties) >= maxPropertyCount {
			return &Error{Status: http.StatusRequestEntityTooLarge, Explanation: fmt.Sprintf("Maximum number of image properties exceeded (%d).", maxPropertyCount)}
		}
		img.Properties[key] = *s
	}
	return nil
}
