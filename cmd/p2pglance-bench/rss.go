package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// rssResult holds the memory figures of the real binary (kB as in
// /proc/PID/status).
type rssResult struct {
	args                   string
	idle                   time.Duration
	idleMem                procMemory
	upload, download       memPeak    // largest of 20 ms samples during the transfer
	uploadHWM              int64      // VmHWM right after the upload (peak since start)
	downloadHWM            int64      // VmHWM right after the download
	after                  procMemory // after the transfers and another idle period
	size                   int64
	uploadRun, downloadRun sample  // client-side wall; cpu = the agent's CPU (utime+stime)
	uploadCPU, downloadCPU float64 // agent CPU seconds per GB
}

// procMemory is what /proc/PID/status says about memory, in kB. VmRSS =
// RssAnon (heap, stacks: memory the process owns) + RssFile (pages of
// mapped files, here Badger's memory-mapped value log and tables: page
// cache the kernel can drop) + RssShmem.
type procMemory struct {
	rss, hwm, anon, file int64
}

// memPeak is the largest value of each field seen while sampling.
type memPeak procMemory

func (p *memPeak) add(m procMemory) {
	p.rss, p.hwm = max(p.rss, m.rss), max(p.hwm, m.hwm)
	p.anon, p.file = max(p.anon, m.anon), max(p.file, m.file)
}

// benchRSS runs the real binary as a child process (replicas 1, its own
// temp data dir, loopback ports found free by binding :0), reads its
// memory from /proc/PID/status once it has been idle, then uploads and
// downloads an image of -size through its API.
func benchRSS(ctx context.Context, cfg *config, dir string, rep *report) error {
	bin, err := filepath.Abs(cfg.binary)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("binary %s: %w (run make build)", bin, err)
	}
	ports, err := freePorts(4)
	if err != nil {
		return err
	}
	addr := func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }
	args := []string{"agent", "--data-dir", filepath.Join(dir, "agent"),
		"--api-addr", addr(ports[0]), "--peer-addr", addr(ports[1]),
		"--raft-addr", addr(ports[2]), "--gossip-addr", addr(ports[3]),
		"--replicas", "1", "--log-level", "warn"}
	logf, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = cleanEnv()
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	pid := cmd.Process.Pid
	res := &rssResult{args: "p2pglance " + strings.Join(args, " "), size: cfg.size, idle: cfg.idle}
	hc := newHTTPClient(4)
	g := &glance{base: "http://" + addr(ports[0]), hc: hc}

	// Up: the API answers a list.
	err = waitFor(ctx, 30*time.Second, func() bool {
		select {
		case err := <-exited:
			exited <- err
			return true
		default:
		}
		_, err := g.list(ctx, "limit=1")
		return err == nil
	})
	if err != nil {
		return fmt.Errorf("agent never answered (see its log): %w", err)
	}
	select {
	case err := <-exited:
		return fmt.Errorf("agent exited: %v (log: %s)", err, tail(logf.Name()))
	default:
	}
	time.Sleep(res.idle)
	if res.idleMem, err = procMem(pid); err != nil {
		return err
	}
	log.Printf("  idle: VmRSS %d MiB (anon %d, file %d), VmHWM %d MiB", res.idleMem.rss>>10, res.idleMem.anon>>10, res.idleMem.file>>10, res.idleMem.hwm>>10)

	data := make([]byte, cfg.size)
	fillRandom(data, 5)
	restamp(data)
	var id string
	err = waitFor(ctx, 20*time.Second, func() bool { id, err = g.create(ctx, "bench-rss"); return err == nil })
	if err != nil {
		return fmt.Errorf("create on the agent: %w", err)
	}
	res.uploadRun, res.upload, err = agentRun(pid, cfg.size, func() error { return g.upload(ctx, id, data) })
	if err != nil {
		return err
	}
	m, err := procMem(pid)
	if err != nil {
		return err
	}
	res.uploadHWM = m.hwm
	res.downloadRun, res.download, err = agentRun(pid, cfg.size, func() error { return g.download(ctx, id, cfg.size) })
	if err != nil {
		return err
	}
	if m, err = procMem(pid); err != nil {
		return err
	}
	res.downloadHWM = m.hwm
	time.Sleep(res.idle)
	if res.after, err = procMem(pid); err != nil {
		return err
	}
	res.uploadCPU = res.uploadRun.cpuPerGB()
	res.downloadCPU = res.downloadRun.cpuPerGB()
	log.Printf("  upload %.0f MB/s: peak VmRSS %d MiB (anon %d, file %d), VmHWM %d MiB; download %.0f MB/s: peak VmRSS %d MiB (anon %d); after: VmRSS %d MiB (anon %d)",
		res.uploadRun.mbps(), res.upload.rss>>10, res.upload.anon>>10, res.upload.file>>10, res.uploadHWM>>10,
		res.downloadRun.mbps(), res.download.rss>>10, res.download.anon>>10, res.after.rss>>10, res.after.anon>>10)
	rep.rss = res
	return nil
}

// agentRun runs fn while sampling the agent's VmRSS every 20 ms; the
// sample's cpu is the agent's CPU time, not this process's.
func agentRun(pid int, bytes int64, fn func() error) (sample, memPeak, error) {
	stop := make(chan struct{})
	var peak memPeak
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if m, err := procMem(pid); err == nil {
				peak.add(m)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	c0 := procCPU(pid)
	t0 := time.Now()
	err := fn()
	s := sample{wall: time.Since(t0), cpu: procCPU(pid) - c0, bytes: bytes}
	close(stop)
	wg.Wait()
	return s, peak, err
}

// procMem reads the memory lines (kB) of /proc/PID/status.
func procMem(pid int) (procMemory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMemory{}, err
	}
	return parseProcStatus(b)
}

// parseProcStatus reads VmRSS, VmHWM, RssAnon and RssFile (kB) from the
// text of /proc/PID/status.
func parseProcStatus(b []byte) (procMemory, error) {
	var m procMemory
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			m.rss = n
		case "VmHWM":
			m.hwm = n
		case "RssAnon":
			m.anon = n
		case "RssFile":
			m.file = n
		}
	}
	if m.rss == 0 {
		return m, errors.New("no VmRSS in /proc/PID/status")
	}
	return m, nil
}

// procCPU is pid's user+system CPU time (from /proc/PID/stat; 0 if it
// cannot be read).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	return parseProcStatCPU(b)
}

// parseProcStatCPU returns utime+stime (fields 14 and 15, in clock ticks
// of 10 ms: USER_HZ is 100 on Linux) from the text of /proc/PID/stat. The
// command name (field 2, in parentheses) may hold spaces and
// parentheses: fields are counted after its last ')'.
func parseProcStatCPU(b []byte) time.Duration {
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64) // field 14 of stat
	st, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// freePorts finds n distinct loopback ports free for TCP and UDP by
// binding port 0 and closing.
func freePorts(n int) ([]int, error) {
	var out []int
	seen := map[int]bool{}
	for tries := 0; len(out) < n && tries < 100; tries++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		p := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p))
		ln.Close()
		if err != nil {
			continue
		}
		pc.Close()
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	if len(out) < n {
		return nil, errors.New("could not find free ports")
	}
	return out, nil
}

// cleanEnv is this process's environment without P2PGLANCE_* settings,
// so the agent runs with exactly the flags given.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "P2PGLANCE_") {
			env = append(env, kv)
		}
	}
	return env
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
