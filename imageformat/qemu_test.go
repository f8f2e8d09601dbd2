package imageformat

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// qemuImg runs qemu-img in dir.
func qemuImg(t *testing.T, dir string, args ...string) error {
	t.Helper()
	cmd := exec.Command("qemu-img", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return errors.New(strings.TrimSpace(string(out)))
	}
	return nil
}

// qemuVirtualSize is qemu-img's virtual size of path read as format.
func qemuVirtualSize(t *testing.T, path, format string) int64 {
	t.Helper()
	out, err := exec.Command("qemu-img", "info", "-f", format, "--output=json", path).Output()
	if err != nil {
		t.Fatalf("qemu-img info %s: %v", path, err)
	}
	var info struct {
		VirtualSize int64 `json:"virtual-size"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("qemu-img info %s: %v", path, err)
	}
	return info.VirtualSize
}

// TestQemuImages checks images made by qemu-img (Debian's qemu-utils):
// the safe ones are accepted with qemu's own virtual size, the hostile
// ones refused.
func TestQemuImages(t *testing.T) {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img not installed (apt-get install -y qemu-utils); the crafted-image tests still ran")
	}
	dir := t.TempDir()
	raw := randomBytes(11, 3*mib)
	if err := os.WriteFile(filepath.Join(dir, "data.raw"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "gpt.raw"), craftGPT(4*mib), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		file   string
		make   []string // qemu-img arguments
		disk   string
		qemu   string // the format qemu reads it as, for the virtual size; "" to skip
		refuse string
	}{
		{"qcow2", "a.qcow2", []string{"create", "-f", "qcow2", "a.qcow2", "10M"}, "qcow2", "qcow2", ""},
		{"qcow2 v2", "v2.qcow2", []string{"create", "-f", "qcow2", "-o", "compat=0.10", "v2.qcow2", "10M"}, "qcow2", "qcow2", ""},
		{"qcow2 with data", "data.qcow2", []string{"convert", "-f", "raw", "-O", "qcow2", "data.raw", "data.qcow2"}, "qcow2", "qcow2", ""},
		{"qcow2 backing file", "b.qcow2", []string{"create", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", "b.qcow2"}, "qcow2", "", "backing_file"},
		{"qcow2 backing file labelled raw", "b.qcow2", nil, "raw", "", "backing_file"},
		{"qcow2 external data file", "d.qcow2", []string{"create", "-f", "qcow2", "-o", "data_file=d.data", "d.qcow2", "10M"}, "qcow2", "", "data_file"},
		{"qcow2 extended L2", "l2.qcow2", []string{"create", "-f", "qcow2", "-o", "extended_l2=on", "l2.qcow2", "10M"}, "qcow2", "", "Unknown QCOW2 features found"},
		{"qcow2 labelled raw", "a.qcow2", nil, "raw", "", ""},
		{"raw labelled qcow2", "data.raw", nil, "qcow2", "", "does not match stream data raw"},
		{"raw", "data.raw", nil, "raw", "raw", ""},
		{"vmdk monolithicSparse", "a.vmdk", []string{"convert", "-f", "raw", "-O", "vmdk", "data.raw", "a.vmdk"}, "vmdk", "vmdk", ""},
		{"vmdk streamOptimized", "s.vmdk", []string{"convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", "data.raw", "s.vmdk"}, "vmdk", "vmdk", ""},
		{"vmdk monolithicFlat", "f.vmdk", []string{"create", "-f", "vmdk", "-o", "subformat=monolithicFlat", "f.vmdk", "10M"}, "vmdk", "", "its extents are separate files"},
		{"vmdk twoGbMaxExtentSparse", "t.vmdk", []string{"create", "-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", "t.vmdk", "10M"}, "vmdk", "", "its extents are separate files"},
		{"vhd dynamic", "a.vhd", []string{"convert", "-f", "raw", "-O", "vpc", "data.raw", "a.vhd"}, "vhd", "vpc", ""},
		{"vhd fixed", "f.vhd", []string{"create", "-f", "vpc", "-o", "subformat=fixed", "f.vhd", "10M"}, "vhd", "vpc", ""},
		{"vhd fixed of a gpt disk", "g.vhd", []string{"convert", "-f", "raw", "-O", "vpc", "-o", "subformat=fixed", "gpt.raw", "g.vhd"}, "vhd", "vpc", ""},
		{"vhdx", "a.vhdx", []string{"convert", "-f", "raw", "-O", "vhdx", "data.raw", "a.vhdx"}, "vhdx", "vhdx", ""},
		{"vhdx labelled vmdk", "a.vhdx", nil, "vmdk", "", "does not match stream data vhdx"},
		{"vdi", "a.vdi", []string{"convert", "-f", "raw", "-O", "vdi", "data.raw", "a.vdi"}, "vdi", "vdi", ""},
		{"qed", "a.qed", []string{"create", "-f", "qed", "a.qed", "10M"}, "raw", "", "This file format is not allowed"},
		{"gpt disk", "gpt.raw", nil, "raw", "raw", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.make != nil {
				if err := qemuImg(t, dir, c.make...); err != nil {
					t.Skipf("this qemu-img cannot make it: %v", err)
				}
			}
			path := filepath.Join(dir, c.file)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			in, err := Inspect(f)
			if err != nil {
				t.Fatal(err)
			}
			vs, err := in.Check(c.disk)
			st, serr := f.Stat()
			if serr != nil {
				t.Fatal(serr)
			}
			at, aerr := InspectAt(f, st.Size())
			if aerr != nil {
				t.Fatal(aerr)
			}
			if vs2, err2 := at.Check(c.disk); vs2 != vs || (err == nil) != (err2 == nil) {
				t.Fatalf("streamed: %d, %v; InspectAt: %d, %v", vs, err, vs2, err2)
			}
			if c.refuse != "" {
				if err == nil || !strings.Contains(err.Error(), c.refuse) {
					t.Fatalf("Check(%s) of %s (detected %v) = %d, %v; want refusal with %q", c.disk, c.file, in.Detected(), vs, err, c.refuse)
				}
				return
			}
			if err != nil {
				t.Fatalf("Check(%s) of %s (detected %v) refused: %v", c.disk, c.file, in.Detected(), err)
			}
			if c.qemu != "" {
				if want := qemuVirtualSize(t, path, c.qemu); vs != want {
					t.Fatalf("virtual size %d, qemu-img says %d", vs, want)
				}
			}
		})
	}
}
