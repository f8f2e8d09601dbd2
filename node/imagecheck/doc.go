// Package imagecheck is Glance's rule for image data, shared by uploads
// (package node) and imports (package importer): data in a bare
// container must be of the image's disk_format and pass that format's
// safety checks (image_format options with require_image_format_match
// on), and the check gives the virtual size recorded on the image.
//
// Data is checked either as it streams into chunks (Watch, then Check:
// an upload, web-download, glance-download, an eager location import
// and a location pull) or after it is stored (CheckStored: glance-direct
// and copy-image), reading only the few chunks the inspector needs
// through a FetchFunc the caller provides. The format detection itself
// is package imageformat; imagecheck adds which images are inspected
// and how the answer lands on the image record.
//
// imagecheck imports only catalog and imageformat.
package imagecheck
