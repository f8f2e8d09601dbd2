package schema

// imageBaseProperties is glance/api/v2/images.py:get_base_properties(), in
// Glance's key order, with the format enums taken from DiskFormats and
// ContainerFormats.
func imageBaseProperties() Object {
	return Object{
		{"id", Object{
			{"type", "string"},
			{"description", "An identifier for the image"},
			{"pattern", uuidPattern},
		}},
		{"name", Object{
			{"type", nullable("string")},
			{"description", "Descriptive name for the image"},
			{"maxLength", 255},
		}},
		{"status", Object{
			{"type", "string"},
			{"readOnly", true},
			{"description", "Status of the image"},
			{"enum", Strings("queued", "saving", "active", "killed",
				"deleted", "uploading", "importing",
				"pending_delete", "deactivated")},
		}},
		{"visibility", Object{
			{"type", "string"},
			{"description", "Scope of image accessibility"},
			{"enum", Strings("community", "public", "private", "shared")},
		}},
		{"protected", Object{
			{"type", "boolean"},
			{"description", "If true, image will not be deletable."},
		}},
		{"os_hidden", Object{
			{"type", "boolean"},
			{"description", "If true, image will not appear in default image list response."},
		}},
		{"checksum", Object{
			{"type", nullable("string")},
			{"readOnly", true},
			{"description", "md5 hash of image contents."},
			{"maxLength", 32},
		}},
		{"os_hash_algo", Object{
			{"type", nullable("string")},
			{"readOnly", true},
			{"description", "Algorithm to calculate the os_hash_value"},
			{"maxLength", 64},
		}},
		{"os_hash_value", Object{
			{"type", nullable("string")},
			{"readOnly", true},
			{"description", "Hexdigest of the image contents using the algorithm specified by the os_hash_algo"},
			{"maxLength", 128},
		}},
		{"owner", Object{
			{"type", nullable("string")},
			{"description", "Owner of the image"},
			{"maxLength", 255},
		}},
		{"size", Object{
			{"type", nullable("integer")},
			{"readOnly", true},
			{"description", "Size of image file in bytes"},
		}},
		{"virtual_size", Object{
			{"type", nullable("integer")},
			{"readOnly", true},
			{"description", "Virtual size of image in bytes"},
		}},
		{"container_format", Object{
			{"type", nullable("string")},
			{"description", "Format of the container"},
			{"enum", formatEnum(ContainerFormats)},
		}},
		{"disk_format", Object{
			{"type", nullable("string")},
			{"description", "Format of the disk"},
			{"enum", formatEnum(DiskFormats)},
		}},
		{"created_at", Object{
			{"type", "string"},
			{"readOnly", true},
			{"description", "Date and time of image registration"},
		}},
		{"updated_at", Object{
			{"type", "string"},
			{"readOnly", true},
			{"description", "Date and time of the last image modification"},
		}},
		{"tags", Object{
			{"type", "array"},
			{"description", "List of strings related to the image"},
			{"items", Object{
				{"type", "string"},
				{"maxLength", 255},
			}},
		}},
		{"direct_url", Object{
			{"type", "string"},
			{"readOnly", true},
			{"description", "URL to access the image file kept in external store"},
		}},
		{"min_ram", Object{
			{"type", "integer"},
			{"description", "Amount of ram (in MB) required to boot image."},
		}},
		{"min_disk", Object{
			{"type", "integer"},
			{"description", "Amount of disk space (in GB) required to boot image."},
		}},
		{"self", Object{
			{"type", "string"},
			{"readOnly", true},
			{"description", "An image self url"},
		}},
		{"file", Object{
			{"type", "string"},
			{"readOnly", true},
			{"description", "An image file url"},
		}},
		{"stores", Object{
			{"type", "string"},
			{"readOnly", true},
			{"description", "Store in which image data resides.  Only present when the " +
				"operator has enabled multiple stores.  May be a comma-separated list " +
				"of store identifiers."},
		}},
		{"schema", Object{
			{"type", "string"},
			{"readOnly", true},
			{"description", "An image schema url"},
		}},
		{"locations", Object{
			{"type", "array"},
			{"items", Object{
				{"type", "object"},
				{"properties", Object{
					{"url", Object{
						{"type", "string"},
						{"maxLength", 255},
					}},
					{"metadata", Object{
						{"type", "object"},
					}},
					{"validation_data", Object{
						{"description", "Values to be used to populate the corresponding " +
							"image properties. If the image status is not 'queued', values " +
							"must exactly match those already contained in the image properties."},
						{"type", "object"},
						{"writeOnly", true},
						{"additionalProperties", false},
						{"properties", Object{
							{"checksum", Object{
								{"type", "string"},
								{"minLength", 32},
								{"maxLength", 32},
							}},
							{"os_hash_algo", Object{
								{"type", "string"},
								{"maxLength", 64},
							}},
							{"os_hash_value", Object{
								{"type", "string"},
								{"maxLength", 128},
							}},
						}},
						{"required", Strings("os_hash_algo", "os_hash_value")},
					}},
				}},
				{"required", Strings("url", "metadata")},
			}},
			{"description", "A set of URLs to access the image file kept in external store"},
		}},
	}
}

// imageCustomProperties is Glance's stock etc/schema-image.json, each
// property tagged "is_base": false as get_schema() does (python-glanceclient
// then sends "add" instead of "replace" for them in PATCH).
func imageCustomProperties() Object {
	const keysDoc = "https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html"
	return Object{
		{"kernel_id", Object{
			{"type", nullable("string")},
			{"pattern", uuidPattern},
			{"description", "ID of image stored in Glance that should be used as the " +
				"kernel when booting an AMI-style image."},
			{"is_base", false},
		}},
		{"ramdisk_id", Object{
			{"type", nullable("string")},
			{"pattern", uuidPattern},
			{"description", "ID of image stored in Glance that should be used as the " +
				"ramdisk when booting an AMI-style image."},
			{"is_base", false},
		}},
		{"instance_uuid", Object{
			{"type", "string"},
			{"description", "Metadata which can be used to record which instance this " +
				"image is associated with. (Informational only, does not create an " +
				"instance snapshot.)"},
			{"is_base", false},
		}},
		{"architecture", Object{
			{"description", "Operating system architecture as specified in " + keysDoc},
			{"type", "string"},
			{"is_base", false},
		}},
		{"os_distro", Object{
			{"description", "Common name of operating system distribution as specified in " + keysDoc},
			{"type", "string"},
			{"is_base", false},
		}},
		{"os_version", Object{
			{"description", "Operating system version as specified by the distributor."},
			{"type", "string"},
			{"is_base", false},
		}},
		{"description", Object{
			{"description", "A human-readable string describing this image."},
			{"type", "string"},
			{"is_base", false},
		}},
		{"cinder_encryption_key_id", Object{
			{"description", "Identifier in the OpenStack Key Management Service for the " +
				"encryption key for the Block Storage Service to use when mounting a " +
				"volume created from this image"},
			{"type", "string"},
			{"is_base", false},
		}},
		{"cinder_encryption_key_deletion_policy", Object{
			{"description", "States the condition under which the Image Service will " +
				"delete the object associated with the 'cinder_encryption_key_id' image " +
				"property.  If this property is missing, the Image Service will take no action"},
			{"type", "string"},
			{"enum", Strings("on_image_deletion", "do_not_delete")},
			{"is_base", false},
		}},
	}
}
