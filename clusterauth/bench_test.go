package clusterauth

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkSignVerify measures signing a chunk GET and verifying it (no
// network), the per-request cost the secret adds.
func BenchmarkSignVerify(b *testing.B) {
	k, err := Derive([]byte("the cluster secret, benchmark"))
	if err != nil {
		b.Fatal(err)
	}
	tr := &Transport{Keys: [][]byte{k.Peer}, NodeID: "n1", Protocol: testProtocol}
	v := NewVerifier([][]byte{k.Peer}, testProtocol, nil)
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, "/blobs/3e34b9fab359a72fcf9c6f6efd66c2a29a2e87030ae034cf9847883ac50642d0?image=x&idx=1", nil)
		if _, err := tr.Sign(req, emptySHA256); err != nil {
			b.Fatal(err)
		}
		if _, _, reason := v.check(req); reason != "" {
			b.Fatal(reason)
		}
	}
}
