package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sample is one measured run: wall time, CPU time this whole process used
// meanwhile (user+system, every goroutine: clients and in-process nodes)
// and the bytes moved.
type sample struct {
	wall   time.Duration
	cpu    time.Duration
	bytes  int64
	sys    cpuStat // machine-wide CPU time meanwhile (/proc/stat)
	minflt int64   // minor page faults of this process meanwhile
}

// mbps is decimal megabytes per second, as Glance's figures are quoted.
func (s sample) mbps() float64 { return float64(s.bytes) / 1e6 / s.wall.Seconds() }

// cores is how many CPUs were busy on average (CPU time / wall time).
func (s sample) cores() float64 { return s.cpu.Seconds() / s.wall.Seconds() }

// cpuPerGB is CPU seconds spent per decimal gigabyte moved.
func (s sample) cpuPerGB() float64 { return s.cpu.Seconds() / (float64(s.bytes) / 1e9) }

// cpuStat is machine-wide CPU time by state, from the "cpu" line of
// /proc/stat: it also counts what the kernel does outside this process
// (page-cache writeback, loopback softirqs) and what the hypervisor took.
type cpuStat struct {
	busy, iowait, steal, idle time.Duration
}

func readCPUStat() cpuStat {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuStat{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return cpuStat{}
	}
	v := make([]time.Duration, len(f))
	for i := 1; i < len(f); i++ {
		n, _ := strconv.ParseInt(f[i], 10, 64)
		v[i] = time.Duration(n) * 10 * time.Millisecond // USER_HZ = 100
	}
	// user nice system idle iowait irq softirq steal
	return cpuStat{busy: v[1] + v[2] + v[3] + v[6] + v[7], idle: v[4], iowait: v[5], steal: v[8]}
}

func (a cpuStat) sub(b cpuStat) cpuStat {
	return cpuStat{busy: a.busy - b.busy, iowait: a.iowait - b.iowait, steal: a.steal - b.steal, idle: a.idle - b.idle}
}

// machineCores is how many CPUs the whole machine kept busy on average
// (user, system, interrupts; not iowait or steal).
func (s sample) machineCores() float64 { return s.sys.busy.Seconds() / s.wall.Seconds() }

// iowaitCores is the average number of CPUs idle waiting for disk I/O.
func (s sample) iowaitCores() float64 { return s.sys.iowait.Seconds() / s.wall.Seconds() }

// stealCores is the average number of CPUs the hypervisor took away.
func (s sample) stealCores() float64 { return s.sys.steal.Seconds() / s.wall.Seconds() }

// cpus summarises where the CPUs went during s.
func (s sample) cpus() string {
	return fmt.Sprintf("process %.2f, machine %.2f cores busy, iowait %.2f, steal %.2f, %d minor faults", s.cores(), s.machineCores(), s.iowaitCores(), s.stealCores(), s.minflt)
}

func processCPU() (time.Duration, int64) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Minflt
}

// measure times fn and the process CPU it took.
func measure(bytes int64, fn func() error) (sample, error) {
	s0, t0 := readCPUStat(), time.Now()
	c0, f0 := processCPU()
	err := fn()
	c1, f1 := processCPU()
	return sample{wall: time.Since(t0), cpu: c1 - c0, bytes: bytes, sys: readCPUStat().sub(s0), minflt: f1 - f0}, err
}

// median returns the run with the median wall time (the lower middle one
// for an even count).
func median(ss []sample) sample {
	s := slices.Clone(ss)
	slices.SortFunc(s, func(a, b sample) int { return int(a.wall - b.wall) })
	return s[(len(s)-1)/2]
}

func mbpsList(ss []sample) string {
	var parts []string
	for _, s := range ss {
		parts = append(parts, fmt.Sprintf("%.0f", s.mbps()))
	}
	return strings.Join(parts, ", ")
}

// percentile returns the p-th percentile (0..100) of ds (nearest rank).
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

// profiled runs fn under the CPU profiler and the execution tracer,
// writing dir/name.pprof and dir/name.trace (the trace gives where
// goroutines blocked: go tool trace -pprof=syscall|sync|net). With no dir
// it does nothing: profiled runs are extra runs, never measured ones.
func profiled(dir, name string, fn func() error) error {
	if dir == "" {
		return nil
	}
	pf, err := os.Create(filepath.Join(dir, name+".pprof"))
	if err != nil {
		return err
	}
	defer pf.Close()
	tf, err := os.Create(filepath.Join(dir, name+".trace"))
	if err != nil {
		return err
	}
	defer tf.Close()
	if err := pprof.StartCPUProfile(pf); err != nil {
		return err
	}
	if err := trace.Start(tf); err != nil {
		pprof.StopCPUProfile()
		return err
	}
	err = fn()
	trace.Stop()
	pprof.StopCPUProfile()
	return err
}

// writeHeapProfile writes dir/name.pprof, a profile of the live heap
// (nothing without a dir).
func writeHeapProfile(dir, name string) error {
	if dir == "" {
		return nil
	}
	f, err := os.Create(filepath.Join(dir, name+".pprof"))
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("heap").WriteTo(f, 0)
}

// machine describes where the figures were taken.
type machine struct {
	nproc     int
	cpuModel  string
	goVersion string
	kernel    string
	memTotal  string
	fs        string
	date      string
	loadStart string // /proc/loadavg before and after the run: other work
	loadEnd   string // on this shared machine shows here
}

func procLoad() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func machineInfo(dir string) machine {
	m := machine{nproc: runtime.NumCPU(), goVersion: runtime.Version(), date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), loadStart: procLoad()}
	if out, err := exec.Command("go", "version").Output(); err == nil {
		m.goVersion = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		m.kernel = strings.TrimSpace(string(out))
	}
	m.cpuModel = procField("/proc/cpuinfo", "model name")
	m.memTotal = procField("/proc/meminfo", "MemTotal")
	if out, err := exec.Command("df", "-hT", dir).Output(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if f := strings.Fields(lines[len(lines)-1]); len(f) >= 7 {
			m.fs = fmt.Sprintf("%s (%s, %s, mounted on %s)", f[0], f[1], f[2], f[6])
		}
	}
	return m
}

// procField returns the value of the first "key: value" line of a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return "?"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// runqWait sums the time every thread of this process has spent
// runnable but waiting for a CPU (second field of
// /proc/self/task/*/schedstat; 0 where the kernel does not report it).
func runqWait() time.Duration {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0
	}
	var total int64
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + t.Name() + "/schedstat")
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) >= 2 {
			var v int64
			if _, err := fmt.Sscan(f[1], &v); err == nil {
				total += v
			}
		}
	}
	return time.Duration(total)
}
