//go:build unix

package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestPartFilesRefuseLinksAndStayPrivate: fetch creates PATH.part and
// PATH.part.json readable by their owner only, and refuses either when it
// is a symbolic link, writing nothing through it.
func TestPartFilesRefuseLinksAndStayPrivate(t *testing.T) {
	size := int64(10)
	img := &catalogImage{ID: "11111111-2222-3333-4444-555555555555", Status: "active", Size: &size}

	dir := t.TempDir()
	to := filepath.Join(dir, "disk.raw")
	p, err := openPart(to, img, false)
	if err != nil {
		t.Fatal(err)
	}
	p.close()
	part, record := partPaths(to)
	for _, path := range []string{part, record} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if mode := st.Mode().Perm(); mode&0o077 != 0 {
			t.Errorf("%s has mode %o: others may read it", filepath.Base(path), mode)
		}
	}

	for _, linked := range []string{"part", "record"} {
		t.Run("linked "+linked, func(t *testing.T) {
			dir := t.TempDir()
			to := filepath.Join(dir, "disk.raw")
			part, record := partPaths(to)
			victim := filepath.Join(dir, "victim")
			if err := os.WriteFile(victim, []byte("keep me"), 0o644); err != nil {
				t.Fatal(err)
			}
			link := part
			if linked == "record" {
				link = record
			}
			if err := os.Symlink(victim, link); err != nil {
				t.Fatal(err)
			}
			p, err := openPart(to, img, false)
			if err == nil {
				p.close()
				t.Fatalf("openPart followed the symbolic link at %s", filepath.Base(link))
			}
			if data, _ := os.ReadFile(victim); string(data) != "keep me" {
				t.Fatalf("the link's target was written: %q", data)
			}
		})
	}
}
