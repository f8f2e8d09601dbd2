// Package imageformat tells what a disk image really is — raw, qcow2,
// vmdk, vhd, vhdx, vdi, iso, an MBR/GPT-partitioned raw disk, and also
// qed and luks — and whether it is safe to hand to a hypervisor, from one
// sequential pass over its bytes.
//
// An Inspector is an io.Writer: the data is written to it as it streams
// by (an upload, a download), and it keeps only bounded pieces of it: the
// first HeadSize bytes (every header and descriptor it parses lies
// there: qcow2, vhd, vdi, qed, luks and MBR headers, the VMDK descriptor
// of up to 1 MiB at sector 1, the ISO 9660 volume descriptor at 32 KiB,
// the VHDX region table at 192 KiB), the last 1.5 KiB (a fixed VHD's
// footer, a streamOptimized VMDK's footer and end-of-stream marker), and
// the few small VHDX regions its region table points at (at most 64 KiB
// each). Data that is already stored can be inspected with InspectAt,
// which reads only those pieces.
//
// Check applies the rule OpenStack Glance applies to image data since
// its 2024 format-inspection fixes (Glance's image_format options with
// require_image_format_match on): the detected format must be the
// image's disk_format (a raw disk_format accepts any content, other
// formats Glance cannot inspect accept only unrecognised content), more
// than one recognised format is refused (an ISO with an MBR/GPT boot
// sector is an ISO), and the detected format's safety checks must pass:
// no qcow2 backing file, external data file or unknown incompatible
// feature; no VMDK other than a single-file monolithicSparse or
// streamOptimized one whose descriptor names no path; a sane protective
// MBR for GPT; no qed; luks version 1 only.
//
// # Dependencies
//
// imageformat imports only the standard library. It must not import any
// other p2pglance package: node calls it on uploads, imports and
// downloads, and it knows nothing of images, stores or HTTP.
package imageformat
