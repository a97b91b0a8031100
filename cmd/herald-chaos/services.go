package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// mariadb is a MariaDB server of the run's own, on a spare port with its own datadir, which
// the run may stall (SIGSTOP) without touching the machine's shared server.
type mariadb struct {
	port int
	dir  string
	p    *proc
}

func startMariaDB(ctx context.Context, dir, name string) (*mariadb, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	m := &mariadb{port: port, dir: filepath.Join(dir, name)}
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		return nil, err
	}
	args := []string{"--no-defaults", "--datadir=" + m.dir}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	install := exec.CommandContext(ctx, "mariadb-install-db", append(args, "--auth-root-authentication-method=normal", "--skip-test-db")...)
	if out, err := install.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mariadb-install-db: %w: %s", err, tail(out))
	}
	m.p = newProc(dir, name, "mariadbd", nil, append(args, "--port="+strconv.Itoa(port), "--bind-address=127.0.0.1",
		"--socket="+filepath.Join(m.dir, "mysqld.sock"), "--pid-file="+filepath.Join(m.dir, "mysqld.pid"), "--skip-log-bin",
		"--innodb-buffer-pool-size=128M", "--innodb-flush-log-at-trx-commit=2", "--max-connections=500")...)
	if err := m.p.start(); err != nil {
		return nil, err
	}
	if err := waitTCP(ctx, hostPort(port), time.Minute); err != nil {
		m.stop()
		return nil, fmt.Errorf("mariadbd on port %d: %w", port, err)
	}
	return m, nil
}

func (m *mariadb) dsn() string {
	return "root@tcp(" + hostPort(m.port) + ")/?parseTime=true&multiStatements=true"
}

func (m *mariadb) stop() {
	if m == nil {
		return
	}
	if m.p != nil {
		m.p.stop(30 * time.Second)
	}
	_ = os.RemoveAll(m.dir)
}

// redisServer is a Redis of the run's own, which the run may flush and restart.
type redisServer struct {
	port int
	p    *proc
}

func startRedis(ctx context.Context, dir string) (*redisServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &redisServer{port: port, p: newProc(dir, "redis", "redis-server", nil, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir)}
	return r, r.start(ctx)
}

func (r *redisServer) start(ctx context.Context) error {
	if err := r.p.start(); err != nil {
		return err
	}
	return waitTCP(ctx, hostPort(r.port), 30*time.Second)
}

func (r *redisServer) url() string { return "redis://" + hostPort(r.port) + "/0" }

func (r *redisServer) cli(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "redis-cli", append([]string{"-p", strconv.Itoa(r.port)}, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (r *redisServer) stop() {
	if r != nil && r.p != nil {
		r.p.stop(10 * time.Second)
	}
}

// stall stops (SIGSTOP) or resumes (SIGCONT) a process and everything it started.
func stall(p *proc, stop bool) error {
	sig := syscall.SIGCONT
	if stop {
		sig = syscall.SIGSTOP
	}
	return p.signal(sig)
}

func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 600 {
		s = "…" + s[len(s)-600:]
	}
	return s
}

// rabbit is a RabbitMQ node of the run's own (its own node name, ports and Mnesia
// directory), which the run may stop and start without touching the shared broker.
type rabbit struct {
	node string
	port int
	home string
	p    *proc
}

// rabbitBin is where the Debian package keeps the unwrapped scripts: the wrappers in
// /usr/sbin switch to the rabbitmq user, whose Erlang cookie is not the run's.
const rabbitBin = "/usr/lib/rabbitmq/bin/"

func startRabbit(ctx context.Context, dir, name string) (*rabbit, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dist, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &rabbit{node: name + "@localhost", port: port, home: filepath.Join(dir, "rabbitmq")}
	if err := os.MkdirAll(r.home, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(r.home, "enabled_plugins"), []byte("[].\n"), 0o644); err != nil {
		return nil, err
	}
	r.p = newProc(dir, "rabbitmq", rabbitBin+"rabbitmq-server", r.env(
		"RABBITMQ_NODE_PORT="+strconv.Itoa(port), "RABBITMQ_DIST_PORT="+strconv.Itoa(dist),
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_MNESIA_BASE="+filepath.Join(r.home, "mnesia"), "RABBITMQ_LOG_BASE="+filepath.Join(r.home, "log"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(r.home, "enabled_plugins"), "RABBITMQ_CONFIG_FILE="+filepath.Join(r.home, "none"),
		"RABBITMQ_PID_FILE="+filepath.Join(r.home, "pid")))
	if err := r.p.start(); err != nil {
		return nil, err
	}
	if err := waitTCP(ctx, hostPort(port), 2*time.Minute); err != nil {
		r.stop()
		return nil, fmt.Errorf("rabbitmq-server: %w", err)
	}
	return r, nil
}

func (r *rabbit) env(extra ...string) []string {
	return append([]string{"HOME=" + r.home, "RABBITMQ_NODENAME=" + r.node}, extra...)
}

func (r *rabbit) url() string { return "amqp://guest:guest@" + hostPort(r.port) + "/" }

// ctl runs rabbitmqctl against the run's node.
func (r *rabbit) ctl(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, rabbitBin+"rabbitmqctl", append([]string{"-n", r.node}, args...)...)
	cmd.Env = append(os.Environ(), r.env()...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("rabbitmqctl %s: %w: %s", strings.Join(args, " "), err, tail(out))
	}
	return nil
}

func (r *rabbit) stop() {
	if r == nil || r.p == nil || !r.p.running() {
		return
	}
	if err := r.ctl(context.Background(), "shutdown"); err != nil {
		logf("stopping RabbitMQ node %s: %v", r.node, err)
	}
	r.p.stop(30 * time.Second)
}
