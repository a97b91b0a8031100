package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestProcCPUReadsNamesWithSpacesAndParentheses(t *testing.T) {
	p := filepath.Join(t.TempDir(), "stat")
	// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime …
	require.NoError(t, os.WriteFile(p, []byte("4242 (my (odd) name) S 1 1 1 0 -1 4194560 10 0 0 0 250 125 0 0 20 0 3 0 100\n"), 0o600))
	comm, sec, ok := procCPU(p)
	require.True(t, ok)
	require.Equal(t, "my (odd) name", comm)
	require.InDelta(t, 3.75, sec, 1e-9)

	require.NoError(t, os.WriteFile(p, []byte("4242 (short) S 1 1\n"), 0o600))
	_, _, ok = procCPU(p)
	require.False(t, ok, "a truncated stat is no sample")
	_, _, ok = procCPU(filepath.Join(t.TempDir(), "gone"))
	require.False(t, ok, "a process that ended is no sample")
}

func TestCPUBetween(t *testing.T) {
	at := time.Now()
	a := cpuSample{at: at, procs: map[string]float64{"Herald": 10, "MariaDB": 100, "Redis": 1}, machine: 500}
	b := cpuSample{at: at.Add(4 * time.Second), procs: map[string]float64{"Herald": 12, "MariaDB": 104, "Redis": 1.2, "simulator": 3}, machine: 507.6}
	f := cpuBetween(a, b, 100_000)
	require.InDelta(t, 4, f.Seconds, 1e-9)
	require.InDelta(t, 1.9, f.MachineCores, 1e-9)
	// The simulator has no first sample (it started later): it is left out, not counted whole.
	require.Len(t, f.Processes, 3)
	require.Equal(t, "MariaDB", f.Processes[0].Name)
	require.InDelta(t, 1.0, f.Processes[0].Cores, 1e-9)
	require.Equal(t, "Herald", f.Processes[1].Name)
	require.InDelta(t, 0.5, f.Processes[1].Cores, 1e-9)
	require.InDelta(t, 40, f.MariaDBMicrosPerMessage, 1e-9) // 4 s over 100,000 messages
	require.Equal(t, "MariaDB 1.00, Herald 0.50, Redis 0.05 cores; MariaDB 40 µs a message", f.String())

	require.Zero(t, cpuBetween(b, b, 100).MachineCores, "an empty window")
}

func TestSampleCPUSeesThisProcess(t *testing.T) {
	s := sampleCPU(os.Getpid())
	require.Contains(t, s.procs, "Herald")
	require.Contains(t, s.procs, "simulator", "a pid given as the simulator's is read")
	require.Positive(t, s.machine)
}
