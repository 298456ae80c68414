package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is a process the bench started: the service or the floor server.
type child struct {
	name    string
	cmd     *exec.Cmd
	started time.Time // just before the process was started
	stderr  *tail
	done    chan struct{} // closed when the process has exited
	waitErr error         // set before done is closed
}

// startChild starts bin with args and exactly env. The process is killed if
// the bench dies without stopping it (see childAttr).
func startChild(name, bin string, args, env []string) (*child, error) {
	c := &child{name: name, stderr: &tail{max: 16 << 10}, done: make(chan struct{})}
	c.cmd = exec.Command(bin, args...)
	c.cmd.Env = env
	c.cmd.Stdout = c.stderr
	c.cmd.Stderr = c.stderr
	c.cmd.SysProcAttr = childAttr()
	c.started = time.Now()
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// exited reports whether the process has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop asks the process to end (SIGTERM, as an orchestrator would) and
// kills it if it has not within 10 s. It is safe to call more than once.
func (c *child) stop() {
	if c.exited() {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// failure describes why the process is unusable, with the end of its output.
func (c *child) failure(err error) error {
	out := strings.TrimSpace(c.stderr.String())
	if c.exited() {
		err = fmt.Errorf("%w (%s exited: %v)", err, c.name, c.waitErr)
	}
	if out == "" {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	return fmt.Errorf("%s: %w; its output ends with:\n%s", c.name, err, out)
}

// waitHealthy polls url until it answers 200, the process exits, or 30 s pass.
func (c *child) waitHealthy(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		if c.exited() {
			return c.failure(errors.New("not healthy"))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return c.failure(fmt.Errorf("no 200 from %s: %w", url, ctx.Err()))
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// resetPeakRSS resets the kernel's peak-RSS mark (VmHWM) of pid, so that
// peakRSS reports the peak of what follows. It fails on kernels before 4.0.
func resetPeakRSS(pid int) error {
	return os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0)
}

// peakRSS returns the peak resident set size of pid (VmHWM), in bytes.
func peakRSS(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmHWM %q: %w", v, err)
			}
			return kb << 10, nil
		}
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no VmHWM in /proc/<pid>/status")
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tail keeps the last max bytes written to it.
type tail struct {
	max int
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = t.buf[over:]
		if i := bytes.IndexByte(t.buf, '\n'); i >= 0 {
			t.buf = t.buf[i+1:]
		}
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// cpuTime returns the user+system CPU time pid has used. With children, it
// adds the CPU time of the children it has waited for.
func cpuTime(pid int, children bool) (time.Duration, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	// Fields 14-17 of /proc/<pid>/stat (utime, stime, cutime, cstime), in
	// clock ticks; f[0] is field 3, the state.
	last := 12
	if children {
		last = 14
	}
	var ticks int64
	for _, s := range f[11 : last+1] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicksPerSecond, nil
}

// clockTicksPerSecond is USER_HZ, the unit of /proc/<pid>/stat's times; it
// is 100 on every Linux architecture Go supports.
const clockTicksPerSecond = 100

// parentPID returns the parent of pid.
func parentPID(pid int) (int, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(f[1])
}

// statFields returns the fields of /proc/<pid>/stat from the third (state)
// on; the second (comm) may contain spaces and is skipped.
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no comm field", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return nil, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	return f, nil
}

// treeCPU returns the CPU time used by root and its live children, and by
// the children it has reaped: for the postmaster, all of PostgreSQL.
func treeCPU(root int) (time.Duration, error) {
	total, err := cpuTime(root, true)
	if err != nil {
		return 0, err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == root {
			continue
		}
		if ppid, err := parentPID(pid); err == nil && ppid == root {
			if t, err := cpuTime(pid, false); err == nil {
				total += t
			}
		}
	}
	return total, nil
}

// machineCPU returns the CPU time all processes have used, from the first
// line of /proc/stat (user, nice, system, irq, softirq and steal; guest time
// is already in user).
func machineCPU() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, errors.New("/proc/stat: no cpu line")
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc/stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicksPerSecond, nil
}

// loadAverage returns the first three fields of /proc/loadavg.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// waitQuiet waits, up to limit, for a one-second window in which the
// machine's CPU is less than 10 % busy. It reports whether it saw one.
func waitQuiet(ctx context.Context, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		before, err := machineCPU()
		if err != nil {
			return false
		}
		t0 := time.Now()
		select {
		case <-ctx.Done():
			return false
		case <-time.After(time.Second):
		}
		after, err := machineCPU()
		if err != nil {
			return false
		}
		cores := time.Duration(runtime.NumCPU())
		if (after - before) < time.Since(t0)*cores/10 {
			return true
		}
	}
	return false
}
