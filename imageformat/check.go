package imageformat

import (
	"errors"
	"fmt"
	"strings"
)

// ErrRejected matches (errors.Is) every *Rejection.
var ErrRejected = errors.New("image data rejected")

// Rejection is why image data was refused.
type Rejection struct {
	// Reason is the message for the client, in Glance's words where
	// Glance has them.
	Reason string
	// Format is the detected format, when one was settled on.
	Format Format
	// Violations lists the failed safety checks, if that was the reason.
	Violations []Violation
}

func (r *Rejection) Error() string { return r.Reason }

// Is makes errors.Is(err, ErrRejected) hold.
func (r *Rejection) Is(target error) bool { return target == ErrRejected }

// Detected returns the formats whose signature the data carries, raw
// aside, in the order of All. Only valid after Finish.
func (in *Inspector) Detected() []Format {
	var out []Format
	for _, p := range in.probes {
		if p.format != Raw && p.match {
			out = append(out, p.format)
		}
	}
	return out
}

func (in *Inspector) probe(f Format) *probe {
	for i := range in.probes {
		if in.probes[i].format == f {
			return &in.probes[i]
		}
	}
	return nil
}

// Format returns the format of the data: raw when no other signature is
// there, the one recognised format otherwise. An ISO that also carries
// an MBR/GPT boot sector (a hybrid ISO) is an ISO; a fixed VHD (known by
// its trailing footer) whose disk carries an MBR/GPT or an ISO is a VHD.
// More than one format otherwise is refused: one header may be hiding
// another. Only valid after Finish.
func (in *Inspector) Format() (Format, error) {
	if !in.finished {
		return "", errors.New("imageformat: inspector not finished")
	}
	found := in.Detected()
	switch {
	case len(found) == 0:
		return Raw, nil
	case len(found) == 1:
		return found[0], nil
	case sameSet(found, ISO, GPT):
		return ISO, nil
	}
	if p := in.probe(VHD); p.match && p.fixed {
		others := true
		for _, f := range found {
			others = others && (f == VHD || f == GPT || f == ISO)
		}
		if others {
			return VHD, nil
		}
	}
	names := make([]string, len(found))
	for i, f := range found {
		names[i] = string(f)
	}
	return "", &Rejection{Reason: "Multiple formats detected: " + strings.Join(names, ",")}
}

func sameSet(got []Format, want ...Format) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// VirtualSize returns the virtual size format f gives the data (0 when
// unknown). Only valid after Finish.
func (in *Inspector) VirtualSize(f Format) int64 {
	if p := in.probe(f); p != nil && p.match {
		return p.size
	}
	return 0
}

// SafetyCheck runs format f's safety checks on the data: nil, or a
// *Rejection. Data that lacks part of what the checks need (truncated)
// or whose structures are invalid is refused too. Only valid after
// Finish.
func (in *Inspector) SafetyCheck(f Format) error {
	p := in.probe(f)
	switch {
	case p == nil || !p.match:
		return &Rejection{Reason: fmt.Sprintf("Unable to safety check format %s because content does not match", f), Format: f}
	case p.broken != "":
		return &Rejection{Reason: fmt.Sprintf("Image format inspection failed: %s: %s", f, p.broken), Format: f}
	case !p.complete:
		return &Rejection{Reason: "Incomplete file cannot be safety checked", Format: f}
	case len(p.violations) > 0:
		var parts []string
		for _, v := range p.violations {
			parts = append(parts, v.Check+" ("+v.Reason+")")
		}
		return &Rejection{
			Reason:     fmt.Sprintf("Image failed safety checks: %s %s", f, strings.Join(parts, ", ")),
			Format:     f,
			Violations: append([]Violation(nil), p.violations...),
		}
	}
	return nil
}

// Check applies Glance's rule for image data declared as diskFormat and
// returns the virtual size to record (0: leave it unset), or a
// *Rejection:
//
//   - the detected format is diskFormat: its virtual size;
//   - nothing recognised and diskFormat is not inspectable (ami, ari,
//     aki, ploop...): accepted, size unknown;
//   - diskFormat raw and a format recognised: accepted as raw (Glance
//     cannot refuse what may be a raw disk that happens to start like
//     another format), with the byte count as virtual size — but the
//     recognised format's safety checks still apply;
//   - any other disagreement is refused: "Image disk_format X does not
//     match stream data Y".
//
// Then the detected format's safety checks must pass.
func (in *Inspector) Check(diskFormat string) (int64, error) {
	f, err := in.Format()
	if err != nil {
		return 0, err
	}
	var vsize int64
	switch {
	case string(f) == diskFormat:
		vsize = in.VirtualSize(f)
	case f == Raw && !Inspectable(diskFormat):
	case diskFormat == string(Raw):
		vsize = in.Size()
	default:
		return 0, &Rejection{Reason: fmt.Sprintf("Image disk_format %s does not match stream data %s", diskFormat, f), Format: f}
	}
	if err := in.SafetyCheck(f); err != nil {
		return 0, err
	}
	return vsize, nil
}
