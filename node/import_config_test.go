package node

import (
	"strings"
	"testing"

	"github.com/p2pglance/p2pglance/node/importer/urlfilter"
)

func TestConfigValidatesImportFilter(t *testing.T) {
	cfg := Config{DataDir: "d", PeerAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0", GossipAddr: "127.0.0.1:0"}
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("default import filter: %v", err)
	}
	cfg.ImportFilter = urlfilter.Rules{AllowedPorts: []int{0}, DisallowedHosts: []string{"host:80"}}
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "allowed ports: 0") || !strings.Contains(err.Error(), `"host:80"`) {
		t.Fatalf("Validate = %v, want the bad port and host named", err)
	}
}
