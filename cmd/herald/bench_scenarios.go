package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/audience"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/client"
	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/server"
	"github.com/herald-msg/herald/store"
)

// simView is what the bench reads from the vendor simulator: how many messages a channel
// accepted, and the messages one address got. The simulator runs in this process (tests) or
// as a `herald sim` child process, so that its store of every message stays out of Herald's
// resident memory.
type simView interface {
	received(ch channels.Channel) (int64, error)
	messages(ch channels.Channel, address string) ([]sim.Message, error)
}

type localSim struct{ s *sim.Server }

func (l localSim) received(ch channels.Channel) (int64, error) { return l.s.Stats().Received[ch], nil }
func (l localSim) messages(ch channels.Channel, address string) ([]sim.Message, error) {
	return l.s.Messages(ch, address), nil
}

// remoteSim reads a simulator over its /sim API.
type remoteSim struct {
	base string
	hc   *http.Client
}

func (r remoteSim) get(path string, out any) error {
	resp, err := r.hc.Get(r.base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("simulator %s: %s: %s", path, resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (r remoteSim) received(ch channels.Channel) (int64, error) {
	var st sim.Stats
	if err := r.get("/sim/stats", &st); err != nil {
		return 0, err
	}
	return st.Received[ch], nil
}

func (r remoteSim) messages(ch channels.Channel, address string) ([]sim.Message, error) {
	var ms []sim.Message
	err := r.get("/sim/messages?channel="+string(ch)+"&address="+url.QueryEscape(address), &ms)
	return ms, err
}

// startSimProcess runs `herald sim` (this executable) on addr, posting receipts to callback,
// and waits until it answers.
func startSimProcess(ctx context.Context, addr, callback string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe, "sim", "--addr", addr, "--callback", callback, "--receipt-delay", "20ms", "--log-level", "error")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/sim/stats"); err == nil {
			resp.Body.Close()
			return cmd, nil
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return nil, fmt.Errorf("the simulator on %s did not answer within 30s", addr)
}

// importFigures is the CSV import of the broadcast's users.
type importFigures struct {
	Rows          int64   `json:"rows"`
	Imported      int64   `json:"imported"`
	Seconds       float64 `json:"seconds"`
	RowsPerSecond float64 `json:"rows_per_second"`
	// Projected1MSeconds is 1,000,000 rows at the measured rate.
	Projected1MSeconds float64 `json:"projected_1m_seconds"`
	// RatioToInsert is RowsPerSecond over the raw MariaDB INSERT baseline.
	RatioToInsert float64 `json:"ratio_to_mysql_insert"`
}

// benchCSV streams the import file of n users: id and SMS number.
func benchCSV(n int) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		bw := make([]byte, 0, 64<<10)
		bw = append(bw, "id,sms\n"...)
		for i := range n {
			bw = fmt.Appendf(bw, "u%08d,%s\n", i, benchPhone(i))
			if len(bw) > 60<<10 {
				if _, err := pw.Write(bw); err != nil {
					return
				}
				bw = bw[:0]
			}
		}
		_, _ = pw.Write(bw)
		pw.Close()
	}()
	return pr
}

// runImportScenario imports the broadcast's users from a CSV file through the importer of
// the importUsers mutation and `herald import`, printing progress.
func runImportScenario(ctx context.Context, h *server.Herald, appID int64, users int, progress io.Writer) (importFigures, error) {
	fmt.Fprintf(progress, "importing %d users from CSV\n", users)
	last := time.Now()
	started := time.Now()
	rep, err := h.Audience.Import(ctx, appID, benchCSV(users), audience.ImportOptions{
		BatchSize: audience.DefaultImportBatch, Writers: audience.DefaultImportWriters,
		ProgressFunc: func(rows, imported int64) {
			if time.Since(last) >= 2*time.Second {
				last = time.Now()
				fmt.Fprintf(progress, "  %d/%d rows (%.0f%%), %.0f rows/s\n", rows, users, 100*float64(rows)/float64(users), float64(rows)/time.Since(started).Seconds())
			}
		}})
	elapsed := time.Since(started)
	if err != nil {
		return importFigures{}, fmt.Errorf("importing the users: %w", err)
	}
	if rep.Failed > 0 || rep.Imported != int64(users) {
		return importFigures{}, fmt.Errorf("the import imported %d of %d rows (%d failed: %+v)", rep.Imported, users, rep.Failed, rep.Errors[:min(3, len(rep.Errors))])
	}
	f := importFigures{Rows: rep.Rows, Imported: rep.Imported, Seconds: elapsed.Seconds(), RowsPerSecond: float64(rep.Rows) / elapsed.Seconds()}
	f.Projected1MSeconds = 1e6 / f.RowsPerSecond
	return f, nil
}

// rssSampler records the largest VmRSS of this process while it runs.
type rssSampler struct {
	peakKB atomic.Int64
	stop   chan struct{}
	done   chan struct{}
}

func startRSSSampler() *rssSampler {
	r := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if kb := procStatusKB("VmRSS:"); kb > r.peakKB.Load() {
				r.peakKB.Store(kb)
			}
			select {
			case <-r.stop:
				return
			case <-t.C:
			}
		}
	}()
	return r
}

// Stop ends the sampling and returns the peak in MB.
func (r *rssSampler) Stop() float64 {
	close(r.stop)
	<-r.done
	return float64(r.peakKB.Load()) / 1024
}

func procStatusKB(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb
		}
	}
	return 0
}

// historyFigures is the history query: a user's newest 20 messages.
type historyFigures struct {
	SeededRows int64   `json:"seeded_rows"`
	Users      int     `json:"users"`
	API        latency `json:"api"`
	// Store is the same read straight from the history store, without HTTP and GraphQL.
	Store latency `json:"store"`
	// RatioP99 is API p99 over store p99.
	RatioP99 float64 `json:"ratio_p99_to_store"`
}

// runHistoryScenario seeds perUser history rows for each of users users (through Herald's own
// write path) and times User.messages(first: 20) through the API and the same read from the
// store.
func runHistoryScenario(ctx context.Context, h *server.Herald, hc *client.Client, appID int64, users, perUser, reads int, progress io.Writer) (historyFigures, error) {
	total := int64(users) * int64(perUser)
	fmt.Fprintf(progress, "seeding %d history rows (%d users × %d)\n", total, users, perUser)
	base := time.Now().Add(-30 * 24 * time.Hour)
	var (
		written atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		seedErr error
	)
	jobs := make(chan int)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var batch []reports.HistoryEntry
			for start := range jobs {
				batch = batch[:0]
				for u := start; u < min(start+100, users); u++ {
					for k := range perUser {
						at := base.Add(time.Duration(k)*time.Hour + time.Duration(u)*time.Millisecond)
						batch = append(batch, reports.HistoryEntry{AppID: appID, UserID: fmt.Sprintf("u%08d", u), MessageID: fmt.Sprintf("hist-%d-%d", u, k),
							TaskID: int64(k%50 + 1), Channel: channels.SMS, Address: benchPhone(u), Body: "Herald bench history " + strconv.Itoa(k),
							Status: channels.Delivered, CreatedAt: at})
					}
				}
				if err := h.History.Append(ctx, batch); err != nil {
					errOnce.Do(func() { seedErr = err })
					continue
				}
				written.Add(int64(len(batch)))
			}
		}()
	}
	last := time.Now()
	for start := 0; start < users; start += 100 {
		jobs <- start
		if time.Since(last) >= 2*time.Second {
			last = time.Now()
			fmt.Fprintf(progress, "  %d/%d rows\n", written.Load(), total)
		}
	}
	close(jobs)
	wg.Wait()
	if seedErr != nil {
		return historyFigures{}, fmt.Errorf("seeding history: %w", seedErr)
	}
	f := historyFigures{SeededRows: written.Load(), Users: users}
	fmt.Fprintf(progress, "history queries (%d through the API, %d from the store)\n", reads, reads)
	app := strconv.FormatInt(appID, 10)
	var api, direct []time.Duration
	for i := range reads {
		user := fmt.Sprintf("u%08d", (i*7919)%users)
		var res struct {
			User *struct {
				Messages struct {
					Edges []struct{ Node struct{ ID string } }
				}
			}
		}
		started := time.Now()
		if err := hc.Do(ctx, `query($a: ID!, $u: ID!) { user(appId: $a, id: $u) { messages(first: 20) { edges { node { id channel status body sentAt } } } } }`,
			map[string]any{"a": app, "u": user}, &res); err != nil {
			return f, fmt.Errorf("history query: %w", err)
		}
		api = append(api, time.Since(started))
		if res.User == nil || len(res.User.Messages.Edges) < min(perUser, 20) {
			return f, fmt.Errorf("history query of %s returned %v, want at least %d messages", user, res.User, min(perUser, 20))
		}
		started = time.Now()
		es, err := h.History.List(ctx, appID, user, reports.HistoryQuery{First: 20})
		if err != nil {
			return f, err
		}
		direct = append(direct, time.Since(started))
		if len(es) < min(perUser, 20) {
			return f, fmt.Errorf("history store read of %s returned %d entries", user, len(es))
		}
	}
	f.API, f.Store = summarize(api), summarize(direct)
	if f.Store.P99ms > 0 {
		f.RatioP99 = f.API.P99ms / f.Store.P99ms
	}
	return f, nil
}

// fallbackFigures is a FALLBACK route [SMS, VOICE] whose SMS goes unanswered for a share of
// the users.
type fallbackFigures struct {
	Users         int     `json:"users"`
	AfterSeconds  float64 `json:"fallback_after_seconds"`
	ExpectedShare float64 `json:"expected_share"`
	// Share is the task's fallbacks over its users, as Herald counts them.
	Share float64 `json:"share"`
	// VoiceShare is the users whose VOICE call reached the simulator, over the users.
	VoiceShare float64 `json:"voice_share"`
	// Timer is the fire time (the SMS row's fallback_at) minus the due time (its sent_at plus
	// fallbackAfter), from Herald's delivery rows, over the messages that fell back.
	Timer latency `json:"timer_error"`
	// TimerP99OfAfter is the timer's p99 error over fallbackAfter.
	TimerP99OfAfter float64 `json:"timer_p99_of_fallback_after"`
	// EndToEnd is what a recipient sees: the VOICE call reaching the vendor minus the SMS
	// reaching the vendor plus fallbackAfter.
	EndToEnd latency `json:"end_to_end_lateness"`
}

// fallbackPhone is user i's number in the fallback app: silent users' numbers end in 1111,
// on which the simulator never sends a receipt.
func fallbackPhone(i int, silent bool) string {
	if silent {
		return fmt.Sprintf("+86138%04d1111", i)
	}
	return fmt.Sprintf("+86137%07d5", i)
}

// runFallbackScenario broadcasts in an app of its own through a FALLBACK route [SMS, VOICE]
// until DELIVERED; share of the users have silent SMS numbers and must fall back to VOICE.
func runFallbackScenario(ctx context.Context, h *server.Herald, base string, admin context.Context, sv simView, users int, share float64, after time.Duration, progress io.Writer) (fallbackFigures, error) {
	f := fallbackFigures{Users: users, AfterSeconds: after.Seconds()}
	a, err := h.Accounts.CreateApp(admin, "bench-fallback")
	if err != nil {
		return f, err
	}
	key, err := h.Accounts.CreateAPIKey(admin, a.ID, account.Operator)
	if err != nil {
		return f, err
	}
	hc := client.New(base, client.WithAPIKey(key.Secret), client.WithHTTPClient(&http.Client{Timeout: time.Minute}))
	app := strconv.FormatInt(a.ID, 10)
	silent := func(i int) bool { return float64(i%100) < share*100 }
	fmt.Fprintf(progress, "fallback: %d users, %.0f%% with silent SMS numbers, fallbackAfter %s\n", users, share*100, after)
	nSilent := 0
	for start := 0; start < users; start += 5000 {
		var batch []map[string]any
		for i := start; i < min(start+5000, users); i++ {
			p := fallbackPhone(i, silent(i))
			if silent(i) {
				nSilent++
			}
			batch = append(batch, map[string]any{"id": fmt.Sprintf("f%06d", i), "identities": []map[string]any{{"channel": "SMS", "address": p}, {"channel": "VOICE", "address": p}}})
		}
		if err := hc.Do(ctx, `mutation($a: ID!, $u: [UserInput!]!) { upsertUsers(appId: $a, users: $u) { created } }`, map[string]any{"a": app, "u": batch}, nil); err != nil {
			return f, err
		}
	}
	f.ExpectedShare = float64(nSilent) / float64(users)
	var tpl struct {
		CreateTemplate struct{ ID string } `json:"createTemplate"`
	}
	if err := hc.Do(ctx, `mutation($a: ID!) { createTemplate(input: {appId: $a, name: "fallback", variables: [{name: "n", type: "string"}],
		variants: [{channel: SMS, body: "Herald fallback {{n}}", extra: {sign: "Herald"}}, {channel: VOICE, body: "Herald fallback {{n}}"}]}) { id } }`, map[string]any{"a": app}, &tpl); err != nil {
		return f, err
	}
	var rl struct {
		CreateRule struct{ ID string } `json:"createRule"`
	}
	if err := hc.Do(ctx, `mutation($a: ID!, $d: Duration!) { createRule(input: {appId: $a, name: "fallback", routes: [{strategy: FALLBACK, channels: [SMS, VOICE], fallbackAfter: $d, until: DELIVERED}]}) { id } }`,
		map[string]any{"a": app, "d": after.String()}, &rl); err != nil {
		return f, err
	}
	smsBefore, err := sv.received(channels.SMS)
	if err != nil {
		return f, err
	}
	voiceBefore, err := sv.received(channels.Voice)
	if err != nil {
		return f, err
	}
	var task struct {
		CreateTask struct{ ID string } `json:"createTask"`
	}
	if err := hc.Do(ctx, `mutation($a: ID!, $t: ID!, $r: ID!) { createTask(input: {appId: $a, name: "fallback", kind: BROADCAST, templateId: $t, ruleId: $r, variables: {n: "fb"}, priority: 5}) { id } }`,
		map[string]any{"a": app, "t": tpl.CreateTemplate.ID, "r": rl.CreateRule.ID}, &task); err != nil {
		return f, err
	}
	// Wait for every SMS, then for the silent users' VOICE calls, then one more fallbackAfter
	// and a margin for any late, unexpected fallback.
	deadline := time.Now().Add(10*time.Minute + after)
	for {
		sms, err := sv.received(channels.SMS)
		if err != nil {
			return f, err
		}
		voice, err := sv.received(channels.Voice)
		if err != nil {
			return f, err
		}
		if sms-smsBefore >= int64(users) && voice-voiceBefore >= int64(nSilent) {
			break
		}
		if time.Now().After(deadline) {
			return f, fmt.Errorf("fallback: %d of %d SMS and %d of %d VOICE calls reached the simulator", sms-smsBefore, users, voice-voiceBefore, nSilent)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(after + 2*time.Second)
	var errs []time.Duration
	voiced := 0
	for i := range users {
		p := fallbackPhone(i, silent(i))
		calls, err := sv.messages(channels.Voice, p)
		if err != nil {
			return f, err
		}
		if len(calls) == 0 {
			continue
		}
		voiced++
		smses, err := sv.messages(channels.SMS, p)
		if err != nil {
			return f, err
		}
		if len(smses) == 0 {
			return f, fmt.Errorf("user f%06d got a VOICE call but no SMS", i)
		}
		due := smses[len(smses)-1].ReceivedAt.Add(after) // newest first: the last is the first SMS
		errs = append(errs, calls[len(calls)-1].ReceivedAt.Sub(due))
	}
	var t struct {
		Task struct {
			Progress struct{ Total, Fallbacks int64 }
		}
	}
	if err := hc.Do(ctx, `query($id: ID!) { task(id: $id) { progress { total fallbacks } } }`, map[string]any{"id": task.CreateTask.ID}, &t); err != nil {
		return f, err
	}
	f.Share = float64(t.Task.Progress.Fallbacks) / float64(users)
	f.VoiceShare = float64(voiced) / float64(users)
	f.EndToEnd = summarize(errs)
	taskID, err := strconv.ParseInt(task.CreateTask.ID, 10, 64)
	if err != nil {
		return f, fmt.Errorf("task id %q: %w", task.CreateTask.ID, err)
	}
	rows, err := h.DB.StatsShard(taskID).QueryContext(ctx, "SELECT sent_at, fallback_at FROM "+store.DayTable(time.Now().UTC().Format(store.DayFormat))+
		" WHERE task_id = ? AND channel = 'SMS' AND fallback_at IS NOT NULL AND sent_at IS NOT NULL", taskID)
	if err != nil {
		return f, fmt.Errorf("reading the fallback marks: %w", err)
	}
	defer rows.Close()
	var timer []time.Duration
	for rows.Next() {
		var sent, fired time.Time
		if err := rows.Scan(&sent, &fired); err != nil {
			return f, err
		}
		timer = append(timer, fired.Sub(sent.Add(after)))
	}
	if err := rows.Err(); err != nil {
		return f, err
	}
	f.Timer = summarize(timer)
	f.TimerP99OfAfter = f.Timer.P99ms / float64(after.Milliseconds())
	return f, nil
}
