package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/server"
	"github.com/herald-msg/herald/store"
)

const reconcileUsage = "usage: herald reconcile [--config herald.yaml] [--day YYYYMMDD] [--days N] [--check]"

// runReconcile recomputes the hourly rollups of one or more days from their delivery rows and
// replaces the stored ones that differ (with --check, only reports them). It also fills the
// rollups of days recorded before they existed. It fails when --check found a difference.
func runReconcile(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	configPath := fs.String("config", "", "YAML configuration file")
	day := fs.String("day", "", "first day to reconcile, YYYYMMDD in HERALD_TIME_ZONE (default: yesterday)")
	days := fs.Int("days", 1, "number of days from --day on")
	check := fs.Bool("check", false, "compare only; change nothing")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), reconcileUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q\n%s", fs.Arg(0), reconcileUsage)
	}
	cfg, err := server.LoadConfig(*configPath, os.Environ())
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	logger := newLogger(cfg.LogLevel, cfg.LogFormat)
	loc, _ := cfg.Location()
	start := time.Now().In(loc).AddDate(0, 0, -1)
	if *day != "" {
		if start, err = time.ParseInLocation(store.DayFormat, *day, loc); err != nil {
			return fmt.Errorf("--day %q is not YYYYMMDD", *day)
		}
	}
	if *days < 1 || *days > 3660 {
		return fmt.Errorf("--days %d must be between 1 and 3660", *days)
	}
	db, err := store.Open(ctx, store.Config{Driver: cfg.DBDriver, DSN: cfg.DatabaseDSN(), Prefix: cfg.DBPrefix, StatsShards: cfg.StatsShards, HistoryShards: cfg.HistoryShards,
		StatsDSNs: cfg.StatsDSNs, HistoryDSNs: cfg.HistoryDSNs, Unprepared: !cfg.DBPrepare, Logger: logger})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx, time.Now().In(loc), cfg.DayTablesAhead); err != nil {
		return err
	}
	w := reports.NewWriter(db, loc, nil, logger)
	differing := 0
	for i := range *days {
		d := start.AddDate(0, 0, i).Format(store.DayFormat)
		rep, err := w.Reconcile(ctx, d, !*check)
		if err != nil {
			return err
		}
		differing += rep.Differing
		state := "matches its rows"
		switch {
		case rep.Fixed:
			state = "rebuilt from its rows"
		case rep.Differing > 0:
			state = "differs from its rows"
		}
		fmt.Printf("%s: %d messages in %d groups, %d groups differed; rollup %s\n", d, rep.Messages, rep.Groups, rep.Differing, state)
		if rep.MissingPrevious {
			fmt.Printf("%s: the day before has no table on some shard; rows of %s recorded in it are not counted\n", d, d)
		}
	}
	if *check && differing > 0 {
		return fmt.Errorf("%d rollup groups differ from the delivery rows; run without --check to rebuild them", differing)
	}
	return nil
}
