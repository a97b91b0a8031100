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
	a := cpuSample{at: at, machine: 500, procs: map[int]procTime{
		10: {"Herald", 10}, 20: {"MariaDB", 100}, 30: {"Redis", 1},
		40: {"RabbitMQ", 50}, 41: {"RabbitMQ", 7}, // 41 ends before the second sample: a rabbitmqctl
	}}
	b := cpuSample{at: at.Add(4 * time.Second), machine: 507.6, procs: map[int]procTime{
		10: {"Herald", 12}, 20: {"MariaDB", 104}, 30: {"Redis", 1.2}, 40: {"RabbitMQ", 50.4},
		50: {"simulator", 0.8}, // started after the first sample: all its time is in the window
		60: {"MariaDB", 0.4},   // another process of MariaDB, started since: its time counts whole
	}}
	f := cpuBetween(a, b, 100_000)
	require.InDelta(t, 4, f.Seconds, 1e-9)
	require.InDelta(t, 1.9, f.MachineCores, 1e-9)
	got := map[string]float64{}
	for _, p := range f.Processes {
		got[p.Name] = p.Seconds
		require.InDelta(t, p.Seconds/4, p.Cores, 1e-9)
	}
	require.InDeltaMapValues(t, map[string]float64{"Herald": 2, "MariaDB": 4.4, "Redis": 0.2, "RabbitMQ": 0.4, "simulator": 0.8}, got, 1e-9)
	require.Equal(t, "MariaDB", f.Processes[0].Name, "busiest first")
	require.InDelta(t, 44, f.MariaDBMicrosPerMessage, 1e-9) // 4.4 s over 100,000 messages
	require.Equal(t, "MariaDB 1.10, Herald 0.50, simulator 0.20, RabbitMQ 0.10, Redis 0.05 cores; MariaDB 44 µs a message", f.String())

	require.Zero(t, cpuBetween(b, b, 100).MachineCores, "an empty window")
}

func TestSampleCPUSeesThisProcess(t *testing.T) {
	s := sampleCPU(0)
	require.Equal(t, "Herald", s.procs[os.Getpid()].name)
	require.Positive(t, s.machine)
	child := sampleCPU(os.Getppid())
	require.Equal(t, "simulator", child.procs[os.Getppid()].name, "a pid given as the simulator's is read as the simulator")
}
