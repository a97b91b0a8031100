package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"
)

// HTTP measures loopback requests per second: cfg.HTTPWorkers goroutines send GETs over
// keep-alive connections to an in-process server on 127.0.0.1 that answers a short JSON
// body. It bounds what any HTTP figure of Herald (API calls, webhook and vendor calls to the
// simulator) can reach on this machine.
func HTTP(ctx context.Context, cfg BaselineConfig) (Measurement, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Measurement{}, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Measurement{}, fmt.Errorf("error listening on the loopback: %w", err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()

	transport := &http.Transport{MaxIdleConns: cfg.HTTPWorkers, MaxIdleConnsPerHost: cfg.HTTPWorkers, IdleConnTimeout: time.Minute}
	defer transport.CloseIdleConnections()
	hc := &http.Client{Transport: transport, Timeout: 10 * time.Second}

	var (
		n       atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		runErr  error
	)
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	for range cfg.HTTPWorkers {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if n.Add(1) > cfg.Requests { // claim a request within the bound
					n.Add(-1)
					return
				}
				if err := get(ctx, hc, srv.URL); err != nil {
					n.Add(-1)
					errOnce.Do(func() { runErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if runErr != nil {
		return Measurement{}, runErr
	}
	if err := ctx.Err(); err != nil {
		return Measurement{}, err
	}
	return measured(n.Load(), elapsed), nil
}

// get requests url and reads the whole answer, so that the connection is reused.
func get(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("error requesting the loopback server: %w", err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return fmt.Errorf("error reading the loopback answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the loopback server answered HTTP %d", resp.StatusCode)
	}
	return nil
}
