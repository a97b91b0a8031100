package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The broadcast is bound by the machine's CPU, shared by Herald, the simulator and the
// services underneath when they run on the same machine. sampleCPU reads, from /proc, the
// CPU time of each of those processes and of the whole machine, so that the bench can say
// where the cores went while the broadcast and its receipts were processed — and how much of
// MariaDB's CPU one message costs, the figure that bounds the broadcast on a given server.

// serviceNames maps the command names of the services to the names the bench prints.
var serviceNames = map[string]string{
	"mariadbd":     "MariaDB",
	"mysqld":       "MariaDB",
	"beam.smp":     "RabbitMQ",
	"redis-server": "Redis",
}

// cpuUse is the CPU time one process (or group of processes) used over a window.
type cpuUse struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"cpu_seconds"`
	Cores   float64 `json:"cores"`
}

// cpuFigures is where the machine's CPU went over a window.
type cpuFigures struct {
	Seconds float64 `json:"seconds"`
	// MachineCores is how many cores of the machine were busy on average (of Cores).
	MachineCores float64  `json:"machine_cores"`
	Cores        int      `json:"cores"`
	Processes    []cpuUse `json:"processes"`
	// MariaDBMicrosPerMessage is MariaDB's CPU time over the window per message of the
	// broadcast (0 when MariaDB does not run on this machine).
	MariaDBMicrosPerMessage float64 `json:"mariadb_cpu_us_per_message,omitempty"`
}

// cpuSample is the CPU seconds of the tracked processes, by pid, and of the machine at one
// moment.
type cpuSample struct {
	at      time.Time
	procs   map[int]procTime
	machine float64 // busy CPU seconds of all cores
}

// procTime is one process's name, as the bench prints it, and CPU seconds so far.
type procTime struct {
	name    string
	seconds float64
}

// sampleCPU reads the CPU time of Herald (this process), the simulator (simPID, 0 when it runs
// inside this process) and the local services.
func sampleCPU(simPID int) cpuSample {
	s := cpuSample{at: time.Now(), procs: map[int]procTime{}}
	self := os.Getpid()
	if _, sec, ok := procCPU("/proc/self/stat"); ok {
		s.procs[self] = procTime{"Herald", sec}
	}
	if simPID > 0 && simPID != self {
		if _, sec, ok := procCPU(fmt.Sprintf("/proc/%d/stat", simPID)); ok {
			s.procs[simPID] = procTime{"simulator", sec}
		}
	}
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range paths {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err != nil || pid == self || pid == simPID {
			continue
		}
		comm, sec, ok := procCPU(p)
		if name, tracked := serviceNames[comm]; ok && tracked {
			s.procs[pid] = procTime{name, sec}
		}
	}
	s.machine = machineBusy()
	return s
}

// procCPU reads a process's command name and user+system CPU seconds from its stat file.
func procCPU(path string) (comm string, seconds float64, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", 0, false
	}
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open || end+2 > len(b) {
		return "", 0, false
	}
	fields := strings.Fields(string(b[end+2:]))
	if len(fields) < 13 {
		return "", 0, false
	}
	ut, err1 := strconv.ParseFloat(fields[11], 64)
	st, err2 := strconv.ParseFloat(fields[12], 64)
	if err1 != nil || err2 != nil {
		return "", 0, false
	}
	return string(b[open+1 : end]), (ut + st) / 100, true // clock ticks of 10 ms
}

// machineBusy is the CPU seconds all cores spent other than idle or waiting for I/O.
func machineBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0
	}
	var busy float64
	for i, v := range f[1:] {
		n, _ := strconv.ParseFloat(v, 64)
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is counted in user already
			continue
		}
		busy += n
	}
	return busy / 100
}

// cpuBetween is where the CPU went from a to b; messages is the broadcast's size. A process
// that started in between counts whole; one that ended in between (a rabbitmqctl, say) is left
// out, its time in the window unknown.
func cpuBetween(a, b cpuSample, messages int) cpuFigures {
	f := cpuFigures{Seconds: b.at.Sub(a.at).Seconds(), Cores: runtime.NumCPU()}
	if f.Seconds <= 0 {
		return f
	}
	f.MachineCores = (b.machine - a.machine) / f.Seconds
	byName := map[string]float64{}
	for pid, after := range b.procs {
		sec := after.seconds
		if before, ok := a.procs[pid]; ok && before.name == after.name && before.seconds <= after.seconds {
			sec -= before.seconds
		}
		byName[after.name] += sec
	}
	for name, sec := range byName {
		f.Processes = append(f.Processes, cpuUse{Name: name, Seconds: sec, Cores: sec / f.Seconds})
		if name == "MariaDB" && messages > 0 {
			f.MariaDBMicrosPerMessage = sec / float64(messages) * 1e6
		}
	}
	slices.SortFunc(f.Processes, func(x, y cpuUse) int {
		if x.Seconds != y.Seconds {
			if x.Seconds > y.Seconds {
				return -1
			}
			return 1
		}
		return strings.Compare(x.Name, y.Name)
	})
	return f
}

// String lists the processes' shares, busiest first.
func (f cpuFigures) String() string {
	parts := make([]string, 0, len(f.Processes))
	for _, p := range f.Processes {
		parts = append(parts, fmt.Sprintf("%s %.2f", p.Name, p.Cores))
	}
	s := strings.Join(parts, ", ") + " cores"
	if f.MariaDBMicrosPerMessage > 0 {
		s += fmt.Sprintf("; MariaDB %.0f µs a message", f.MariaDBMicrosPerMessage)
	}
	return s
}
