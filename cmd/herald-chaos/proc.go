package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// proc is one OS process the run started; its output goes to <dir>/<name>.log.
type proc struct {
	name string
	path string
	args []string
	env  []string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func newProc(dir, name, path string, env []string, args ...string) *proc {
	return &proc{name: name, path: path, args: args, env: env, log: filepath.Join(dir, name+".log")}
}

// start starts the process; the log file is appended to across restarts.
func (p *proc) start() error {
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "=== %s start %s\n", time.Now().Format(time.RFC3339Nano), p.name)
	p.cmd = exec.Command(p.path, p.args...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("starting %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.done = done
	go func(c *exec.Cmd) {
		p.err = c.Wait()
		f.Close()
		close(done)
	}(p.cmd)
	return nil
}

func (p *proc) running() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *proc) signal(sig syscall.Signal) error {
	if !p.running() {
		return fmt.Errorf("%s is not running", p.name)
	}
	return p.cmd.Process.Signal(sig)
}

// wait waits up to d for the process to exit.
func (p *proc) wait(d time.Duration) bool {
	if p.cmd == nil {
		return true
	}
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// stop ends the process: SIGTERM, then SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT) // a stopped process cannot handle SIGTERM
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if !p.wait(grace) {
		_ = p.cmd.Process.Kill()
		p.wait(5 * time.Second)
	}
}

// waitLog waits until the process's log holds needle (written after the last start).
func (p *proc) waitLog(ctx context.Context, needle string, d time.Duration) error {
	deadline := time.Now().Add(d)
	marker := []byte("=== ")
	for {
		b, _ := os.ReadFile(p.log)
		if i := bytes.LastIndex(b, marker); i >= 0 {
			b = b[i:]
		}
		if bytes.Contains(b, []byte(needle)) {
			return nil
		}
		if !p.running() {
			return fmt.Errorf("%s exited (%v) before logging %q; see %s", p.name, p.err, needle, p.log)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not log %q within %s; see %s", p.name, needle, d, p.log)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

var (
	portsMu sync.Mutex
	ports   = map[int]bool{}
)

// freePort returns a TCP port nothing listens on at the moment and that the run has not
// handed out before. Ports come from 12000–21999, below the kernel's ephemeral range
// (32768 and up by default), so that an outgoing connection of a process started meanwhile
// cannot take one; port+10000 (a Redis Cluster node's bus) stays below it too.
func freePort() (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		p := 12000 + rand.IntN(10000)
		if ports[p] || ports[p+10000] || ports[p-10000] {
			continue
		}
		l, err := net.Listen("tcp", hostPort(p))
		if err != nil {
			continue
		}
		l.Close()
		if bus, err := net.Listen("tcp", hostPort(p+10000)); err == nil {
			bus.Close()
			ports[p] = true
			return p, nil
		}
	}
	return 0, errors.New("no spare TCP port found in 12000–21999")
}

func hostPort(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// waitTCP waits until something accepts connections on addr.
func waitTCP(ctx context.Context, addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s: %w", addr, d, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
