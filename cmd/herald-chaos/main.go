// Command herald-chaos runs Herald's fault scenarios against real processes: a built
// bin/herald started as separate `herald serve` and `herald worker` processes, `herald sim`
// simulators as the vendors, a MariaDB and a Redis of the run's own and the shared
// RabbitMQ. Each scenario strikes during a broadcast and ends with a verdict computed from
// the simulators' per-address counts and Herald's own records; the run prints the fault
// table and exits non-zero on a bad verdict. --scaleout runs the multi-process topology
// (2 serve + 3 worker, a Redis Cluster, statistics shards on two MariaDB servers) instead.
//
// The faults strike only what the run started: its MariaDB, Redis and RabbitMQ node are its
// own (the scale-out run uses the shared MariaDB and RabbitMQ beside its own), and every
// database, queue and key carries the run's prefix and is removed afterwards. It is still
// heavy for a small machine: make test runs it last.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

type options struct {
	bin          string
	users        int
	only         []string
	scaleout     bool
	workDir      string
	keepLogs     bool
	amqpOutage   time.Duration
	dbStall      time.Duration
	vendorOutage time.Duration
	throttle     time.Duration
	stuckAfter   time.Duration
	rate         int
	bulkWorkers  int
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s chaos: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "herald-chaos:", err)
		os.Exit(1)
	}
}

func run() error {
	var o options
	var only string
	flag.StringVar(&o.bin, "bin", "bin/herald", "the herald binary to run")
	flag.IntVar(&o.users, "users", 100000, "users of each broadcast")
	flag.StringVar(&only, "only", "", "comma-separated scenarios to run (kill, rabbitmq, redis, mariadb, vendor500, vendor429, sigterm); empty: all")
	flag.BoolVar(&o.scaleout, "scaleout", false, "run the scale-out topology instead of the fault scenarios")
	flag.StringVar(&o.workDir, "dir", os.TempDir(), "where the run keeps its datadir, logs and configuration")
	flag.BoolVar(&o.keepLogs, "keep-logs", false, "keep the run's directory (logs) afterwards")
	flag.DurationVar(&o.amqpOutage, "amqp-outage", 20*time.Second, "how long RabbitMQ stays stopped")
	flag.DurationVar(&o.dbStall, "db-stall", 10*time.Second, "how long MariaDB stays stalled")
	flag.DurationVar(&o.vendorOutage, "vendor-outage", 30*time.Second, "how long the first SMS vendor answers 5xx")
	flag.DurationVar(&o.throttle, "throttle", 15*time.Second, "how long the first SMS vendor throttles every request")
	flag.DurationVar(&o.stuckAfter, "stuck-after", 6*time.Minute, "a task not completed this long after its fault is stuck")
	flag.IntVar(&o.rate, "rate", 0, "messages per second each SMS provider is paced to (0: users/10, at least 200)")
	flag.IntVar(&o.bulkWorkers, "bulk-workers", 1, "HERALD_BULK_WORKERS of each worker process: few keep shards waiting on the queue when a fault strikes")
	flag.Parse()
	if o.users < 100 || o.users > 10_000_000 {
		return fmt.Errorf("--users %d must be between 100 and 10,000,000", o.users)
	}
	if o.rate == 0 {
		o.rate = max(o.users/10, 200)
	}
	all := scenarios(o)
	if only != "" {
		for _, name := range strings.Split(only, ",") {
			if !slices.ContainsFunc(all, func(s scenario) bool { return s.name == strings.TrimSpace(name) }) {
				return fmt.Errorf("--only: unknown scenario %q", name)
			}
			o.only = append(o.only, strings.TrimSpace(name))
		}
	}
	if _, err := os.Stat(o.bin); err != nil {
		return fmt.Errorf("--bin: %w (make build first)", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.scaleout {
		return runScaleout(ctx, o)
	}
	return runFaults(ctx, o, all)
}

func runFaults(ctx context.Context, o options, all []scenario) error {
	begun := time.Now()
	t, err := startTopology(ctx, o, layout{serves: 1, workers: 2, spare: true, rate: o.rate, bulkWorkers: o.bulkWorkers})
	if err != nil {
		return err
	}
	defer t.close()
	logf("seeding %d users", o.users)
	if err := t.seedUsers(ctx, o.users); err != nil {
		return err
	}
	var results []result
	for _, sc := range all {
		if len(o.only) > 0 && !slices.Contains(o.only, sc.name) {
			continue
		}
		logf("scenario %s: %s", sc.name, sc.fault)
		r := runScenario(ctx, t, sc, o.users)
		results = append(results, r)
		logf("scenario %s: lost %d, duplicated %d, recovered in %s, task done %s after the fault %s", sc.name, r.lost, r.duplicated,
			r.recover.Round(10*time.Millisecond), r.done.Round(100*time.Millisecond), strings.Join(r.problems, "; "))
		if ctx.Err() != nil {
			break
		}
	}
	printTable(results, o, time.Since(begun))
	for _, r := range results {
		if !r.ok() {
			return errors.New("a scenario ended with a bad verdict")
		}
	}
	return ctx.Err()
}

func printTable(results []result, o options, took time.Duration) {
	fmt.Printf("\nHerald chaos — %s, %d users per broadcast, 1 serve + 2 worker processes, took %s\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), o.users, took.Round(time.Second))
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "fault\tin flight\tlost\tduplicated\ttime to recover\ttask done after\tverdict\t")
	for _, r := range results {
		v := "ok"
		if !r.ok() {
			v = "BAD"
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t\n", r.fault, r.inFlight, r.lost, r.duplicated, r.recover.Round(10*time.Millisecond),
			r.done.Round(100*time.Millisecond), v)
	}
	w.Flush()
	fmt.Println()
	for _, r := range results {
		if r.note != "" {
			fmt.Printf("  %s: %s\n", r.fault, r.note)
		}
		for _, p := range r.problems {
			fmt.Printf("  %s: PROBLEM: %s\n", r.fault, p)
		}
	}
}
