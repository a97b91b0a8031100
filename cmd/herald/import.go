package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/audience"
	"github.com/herald-msg/herald/server"
	"github.com/herald-msg/herald/store"
)

const importUsage = "usage: herald import users FILE --app ID [--config herald.yaml] [--encoding auto|utf8|gbk] [--batch N] [--writers N]"

// importErrorsShown is the number of row errors the summary prints.
const importErrorsShown = 20

// runImport imports users from a CSV file into an app, as the importUsers mutation does,
// with a progress bar on stderr. It acts as an administrator of every app: whoever can read
// the configuration can write the database anyway. It fails when any row failed.
func runImport(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "users" {
		return errors.New(importUsage)
	}
	fs := flag.NewFlagSet("import users", flag.ContinueOnError)
	configPath := fs.String("config", "", "YAML configuration file")
	appID := fs.Int64("app", 0, "id of the app the users belong to")
	encoding := fs.String("encoding", string(audience.EncodingAuto), "character set of the file: auto, utf8 or gbk")
	batch := fs.Int("batch", audience.DefaultImportBatch, "rows written per transaction")
	writers := fs.Int("writers", audience.DefaultImportWriters, "transactions written at once")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), importUsage)
		fs.PrintDefaults()
	}
	// Flags may come before and after the file name.
	var files []string
	for rest := args[1:]; ; {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		files, rest = append(files, fs.Arg(0)), fs.Args()[1:]
	}
	if len(files) != 1 {
		return fmt.Errorf("one FILE is needed, got %d\n%s", len(files), importUsage)
	}
	if *appID <= 0 {
		return fmt.Errorf("--app ID is needed\n%s", importUsage)
	}
	cfg, err := server.LoadConfig(*configPath, os.Environ())
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	logger := newLogger(cfg.LogLevel, cfg.LogFormat)

	f, err := os.Open(files[0])
	if err != nil {
		return err
	}
	defer f.Close()
	var size int64
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}

	// The core database is the only one an import writes.
	db, err := store.Open(ctx, store.Config{Driver: cfg.DBDriver, DSN: cfg.DatabaseDSN(), Prefix: cfg.DBPrefix, Logger: logger})
	if err != nil {
		return err
	}
	defer db.Close()
	accounts, err := account.NewService(ctx, db, account.Config{SessionSecret: cfg.SessionSecret, Logger: logger})
	if err != nil {
		return err
	}
	svc := audience.NewService(db, logger)
	// The server reads identities through the Redis cache, whose entries live for days: the
	// import must write through to it as the server's own writes do.
	rdb, err := importRedis(cfg.RedisURL)
	if err != nil {
		return err
	}
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis at %s is unreachable, so the identity cache could not be kept up to date: %w", cfg.RedisURL, err)
	}
	cache, err := audience.NewCache(rdb, cfg.RedisPrefix, svc, audience.CacheOptions{Logger: logger})
	if err != nil {
		return err
	}
	svc.SetCache(cache)
	ctx = account.WithPrincipal(ctx, &account.Principal{Email: "cli:" + cmp.Or(os.Getenv("USER"), "herald"), Role: account.Admin, AllApps: true})

	in := &countingReader{r: f}
	bar := newProgressBar(os.Stderr, in, size)
	start := time.Now()
	rep, err := svc.Import(ctx, *appID, in, audience.ImportOptions{Encoding: audience.Encoding(*encoding), BatchSize: *batch, Writers: *writers,
		ProgressFunc: bar.update})
	if rep != nil {
		bar.finish()
		accounts.Audit(context.WithoutCancel(ctx), "importUsers", *appID, "", map[string]any{"file": files[0], "rows": rep.Rows, "imported": rep.Imported, "failed": rep.Failed})
		printImportSummary(os.Stdout, rep, time.Since(start))
	}
	if err != nil {
		return err
	}
	if rep.Failed > 0 {
		return fmt.Errorf("%s of %s rows were not imported", grouped(rep.Failed), grouped(rep.Rows))
	}
	return nil
}

func printImportSummary(w io.Writer, rep *audience.ImportReport, elapsed time.Duration) {
	fmt.Fprintf(w, "imported %s of %s rows in %.1f s (%s rows/s, %s)\n", grouped(rep.Imported), grouped(rep.Rows),
		elapsed.Seconds(), grouped(int64(float64(rep.Rows)/max(elapsed.Seconds(), 1e-3))), rep.Encoding)
	if rep.Failed > 0 {
		fmt.Fprintf(w, "%s rows failed:\n", grouped(rep.Failed))
	}
	for i, e := range rep.Errors {
		if i == importErrorsShown {
			break
		}
		if e.Column != "" {
			fmt.Fprintf(w, "  row %d, column %s: %s\n", e.Row, e.Column, e.Reason)
		} else {
			fmt.Fprintf(w, "  row %d: %s\n", e.Row, e.Reason)
		}
	}
	if len(rep.Errors) > importErrorsShown || rep.Truncated {
		fmt.Fprintf(w, "  … and more errors; the first %d are shown\n", min(len(rep.Errors), importErrorsShown))
	}
	if rep.Stopped {
		fmt.Fprintln(w, "the file could not be read to its end; the rows after the last error were not imported")
	}
}

// countingReader counts the bytes read, for the progress bar's percentage.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// progressBar draws the import's progress on a terminal, redrawing one line at most ten
// times a second; elsewhere (a log file) it writes a line every five seconds.
type progressBar struct {
	w              io.Writer
	in             *countingReader
	size           int64
	tty            bool
	start, last    time.Time
	rows, imported int64
}

func newProgressBar(w *os.File, in *countingReader, size int64) *progressBar {
	st, err := w.Stat()
	tty := err == nil && st.Mode()&os.ModeCharDevice != 0
	now := time.Now()
	return &progressBar{w: w, in: in, size: size, tty: tty, start: now}
}

func (b *progressBar) update(rows, imported int64) {
	b.rows, b.imported = rows, imported
	now := time.Now()
	every := 100 * time.Millisecond
	if !b.tty {
		every = 5 * time.Second
	}
	if now.Sub(b.last) < every {
		return
	}
	b.last = now
	b.draw(now)
}

func (b *progressBar) finish() {
	b.draw(time.Now())
	if b.tty {
		fmt.Fprintln(b.w)
	}
}

func (b *progressBar) draw(now time.Time) {
	rate := float64(b.rows) / max(now.Sub(b.start).Seconds(), 1e-3)
	var line strings.Builder
	if b.size > 0 {
		pct := min(float64(b.in.n.Load())/float64(b.size), 1)
		const width = 30
		done := int(pct * width)
		fmt.Fprintf(&line, "[%s%s] %5.1f%%  ", strings.Repeat("=", done), strings.Repeat(" ", width-done), 100*pct)
	}
	fmt.Fprintf(&line, "%s rows  %s imported  %s rows/s", grouped(b.rows), grouped(b.imported), grouped(int64(rate)))
	if b.tty {
		fmt.Fprintf(b.w, "\r%s\033[K", line.String())
	} else {
		fmt.Fprintln(b.w, line.String())
	}
}

// importRedis connects to HERALD_REDIS_URL as the server does: one URL is a single Redis, a
// comma-separated list a Redis Cluster.
func importRedis(raw string) (redis.UniversalClient, error) {
	var urls []string
	for u := range strings.SplitSeq(raw, ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	opts := &redis.UniversalOptions{IsClusterMode: len(urls) > 1}
	for _, u := range urls {
		o, err := redis.ParseURL(u)
		if err != nil {
			return nil, fmt.Errorf("HERALD_REDIS_URL: %w", err)
		}
		opts.Addrs = append(opts.Addrs, o.Addr)
		opts.DB, opts.Username, opts.Password, opts.TLSConfig = o.DB, o.Username, o.Password, o.TLSConfig
	}
	if len(urls) == 0 {
		return nil, errors.New("HERALD_REDIS_URL is empty")
	}
	return redis.NewUniversalClient(opts), nil
}

// grouped writes n with thousands separators: 1,000,000.
func grouped(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out strings.Builder
	if neg {
		out.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out.WriteByte(',')
		}
		out.WriteRune(c)
	}
	return out.String()
}
