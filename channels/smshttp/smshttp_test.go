package smshttp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
)

type captured struct {
	method, uri, contentType, auth string
	body                           string
}

// gateway is a stand-in SMS gateway that records requests and answers with answer.
func gateway(t *testing.T, status int, answer string) (*httptest.Server, func() []captured) {
	t.Helper()
	var mu sync.Mutex
	var got []captured
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, captured{r.Method, r.URL.RequestURI(), r.Header.Get("Content-Type"), r.Header.Get("Authorization"), string(b)})
		mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []captured {
		mu.Lock()
		defer mu.Unlock()
		return append([]captured(nil), got...)
	}
}

var now = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

func jsonConfig(u string) Config {
	return Config{
		Name: "gw", URL: u + "/send", Headers: map[string]string{"Authorization": "Bearer k"},
		BodyTemplate: `{"mobile":"{{phone}}","content":"【{{sign}}】{{text}}","uid":"{{id}}"}`, Sign: "Herald",
		Response: ResponseConfig{VendorIDPath: "result.0.sid", CodePath: "status", SuccessValue: "0", MessagePath: "msg",
			RetryableCodes: []string{"9", "17"}, PermanentCodes: []string{"2", "3"}},
		Receipt: &ReceiptConfig{VendorIDPath: "sid", MessageIDPath: "uid", StatusPath: "report.stat", ReasonPath: "report.err",
			StatusMap: map[string]channels.Status{"0": channels.Delivered, "1": channels.Failed}, TokenQuery: "key", Token: "cb-secret"},
		NowFunc: func() time.Time { return now },
	}
}

func TestSendJSONTemplate(t *testing.T) {
	t.Parallel()
	srv, got := gateway(t, 200, `{"status":0,"msg":"ok","result":[{"sid":12345678901234567890}]}`)
	p, err := New(jsonConfig(srv.URL))
	require.NoError(t, err)
	res, err := p.Send(context.Background(), []channels.Message{{ID: "m1", Address: "+8613800138000",
		Body: "He said \"hi\"\nthen <left> & 100%", Extra: map[string]any{"sign": "Shop"}}})
	require.NoError(t, err)
	require.Equal(t, channels.Result{MessageID: "m1", VendorID: "12345678901234567890", Status: channels.Sent, CostUnits: 1}, res[0],
		"a numeric id keeps every digit")
	req := got()[0]
	require.Equal(t, "POST", req.method)
	require.Equal(t, "/send", req.uri)
	require.Equal(t, "application/json", req.contentType)
	require.Equal(t, "Bearer k", req.auth)
	var body map[string]string
	require.NoError(t, json.Unmarshal([]byte(req.body), &body), "placeholders are JSON-escaped: %s", req.body)
	require.Equal(t, map[string]string{"mobile": "+8613800138000", "content": "【Shop】He said \"hi\"\nthen <left> & 100%", "uid": "m1"}, body)
}

func TestSendFormAndGet(t *testing.T) {
	t.Parallel()
	srv, got := gateway(t, 200, `{"code":"OK","id":"v-1"}`)
	form := Config{Name: "form", URL: srv.URL + "/f", ContentType: "application/x-www-form-urlencoded",
		BodyTemplate: "to={{phone}}&msg={{text}}&ref={{id}}",
		Response:     ResponseConfig{VendorIDPath: "id", CodePath: "code", SuccessValue: "OK"}}
	p, err := New(form)
	require.NoError(t, err)
	res, err := p.Send(context.Background(), []channels.Message{{ID: "m&2", Address: "+8613800138000", Body: "a=b & c"}})
	require.NoError(t, err)
	require.Equal(t, "v-1", res[0].VendorID)
	v, err := url.ParseQuery(got()[0].body)
	require.NoError(t, err)
	require.Equal(t, url.Values{"to": {"+8613800138000"}, "msg": {"a=b & c"}, "ref": {"m&2"}}, v)

	get := Config{Name: "get", Method: "get", URL: srv.URL + "/g?to={{ phone }}&text={{text}}",
		Response: ResponseConfig{VendorIDPath: "id"}}
	p, err = New(get)
	require.NoError(t, err)
	res, err = p.Send(context.Background(), []channels.Message{{ID: "m3", Address: "+8613800138000", Body: "x y?"}})
	require.NoError(t, err)
	require.Equal(t, channels.Sent, res[0].Status, "no codePath: a 2xx answer is a success")
	last := got()[1]
	require.Equal(t, "GET", last.method)
	require.Equal(t, "/g?to=%2B8613800138000&text=x+y%3F", last.uri)
	require.Empty(t, last.body)
}

func TestAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		status        int
		body          string
		wantStatus    channels.Status
		wantRetryable bool
		wantReason    string
	}{
		{"retryable code", 200, `{"status":17,"msg":"busy"}`, channels.Failed, true, "17: busy"},
		{"permanent code", 200, `{"status":2,"msg":"bad number"}`, channels.Failed, false, "2: bad number"},
		{"unlisted code is permanent", 200, `{"status":42,"msg":"?"}`, channels.Failed, false, "42: ?"},
		{"429 without a code", 429, `rate limited`, channels.Failed, true, "HTTP 429"},
		{"5xx with an unlisted code", 503, `{"status":99}`, channels.Failed, true, "99"},
		{"listed code wins over 5xx", 500, `{"status":3,"msg":"no"}`, channels.Failed, false, "3: no"},
		{"4xx", 401, `{"msg":"key"}`, channels.Failed, false, "HTTP 401: key"},
		{"unreadable 200", 200, `<ok/>`, channels.Failed, false, "HTTP 200: unreadable answer"},
		{"success code with a 4xx status", 400, `{"status":0}`, channels.Failed, false, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := gateway(t, tt.status, tt.body)
			p, err := New(jsonConfig(srv.URL))
			require.NoError(t, err)
			res, err := p.Send(context.Background(), []channels.Message{{ID: "m", Address: "+8613800138000", Body: "x"}})
			require.NoError(t, err)
			require.Equal(t, tt.wantStatus, res[0].Status)
			require.Equal(t, tt.wantRetryable, res[0].Retryable)
			require.Equal(t, tt.wantReason, res[0].Reason)
		})
	}
}

func TestSendRefusedLocally(t *testing.T) {
	t.Parallel()
	srv, got := gateway(t, 200, `{"status":0}`)
	p, err := New(jsonConfig(srv.URL))
	require.NoError(t, err)
	res, err := p.Send(context.Background(), []channels.Message{{ID: "a", Address: " ", Body: "x"}, {ID: "b", Address: "+86138", Body: " "}})
	require.NoError(t, err)
	require.Equal(t, "no phone number", res[0].Reason)
	require.Equal(t, "empty message", res[1].Reason)
	require.Empty(t, got())

	srv.Close()
	_, err = p.Send(context.Background(), []channels.Message{{ID: "c", Address: "+8613800138000", Body: "x"}})
	require.Error(t, err, "the gateway is down: the batch is retried")
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		field  string
		mutate func(*Config)
	}{
		{"name", func(c *Config) { c.Name = "" }},
		{"name", func(c *Config) { c.Name = "a/b" }},
		{"url", func(c *Config) { c.URL = "gateway.example.com/send" }},
		{"url", func(c *Config) { c.URL = "https://g.example.com/{{to}}" }},
		{"method", func(c *Config) { c.Method = "DELETE" }},
		{"bodyTemplate", func(c *Config) { c.BodyTemplate = "" }},
		{"bodyTemplate", func(c *Config) { c.BodyTemplate = `{"to":"{{phone}}","text":"{{body}}"}` }},
		{"bodyTemplate", func(c *Config) { c.BodyTemplate = `{"to":"{{phone}}","text":{{text}}}` }},
		{"bodyTemplate", func(c *Config) { c.BodyTemplate = `{"text":"{{text}}"}` }},
		{"bodyTemplate", func(c *Config) { c.BodyTemplate = `{"to":"{{phone}}"}` }},
		{"bodyTemplate", func(c *Config) { c.Method = "GET" }},
		{"headers", func(c *Config) { c.Headers = map[string]string{"X-Key": "a\r\nInjected: 1"} }},
		{"response.vendorIdPath", func(c *Config) { c.Response.VendorIDPath = "" }},
		{"response.vendorIdPath", func(c *Config) { c.Response.VendorIDPath = "data..id" }},
		{"response.successValue", func(c *Config) { c.Response.SuccessValue = "" }},
		{"response.codePath", func(c *Config) { c.Response.CodePath = "" }},
		{"response.retryableCodes", func(c *Config) { c.Response.RetryableCodes = []string{"2"} }},
		{"response.retryableCodes", func(c *Config) { c.Response.RetryableCodes = []string{"0"} }},
		{"response.permanentCodes", func(c *Config) { c.Response.PermanentCodes = []string{"0"} }},
		{"concurrency", func(c *Config) { c.Concurrency = -1 }},
		{"receipt.messageIdPath", func(c *Config) { c.Receipt.MessageIDPath, c.Receipt.VendorIDPath = "", "" }},
		{"receipt.statusPath", func(c *Config) { c.Receipt.StatusPath = "" }},
		{"receipt.statusMap", func(c *Config) { c.Receipt.StatusMap = nil }},
		{"receipt.statusMap", func(c *Config) { c.Receipt.StatusMap = map[string]channels.Status{"x": channels.Sent} }},
		{"receipt.tokenHeader", func(c *Config) { c.Receipt.TokenQuery = "" }},
		{"receipt.tokenHeader", func(c *Config) { c.Receipt.TokenHeader = "X-T" }},
		{"receipt.token", func(c *Config) { c.Receipt.Token = "" }},
		{"receipt.itemsPath", func(c *Config) { c.Receipt.ItemsPath = ".x" }},
	}
	for _, tt := range tests {
		cfg := jsonConfig("https://gw.example.com")
		r := *cfg.Receipt
		cfg.Receipt = &r
		tt.mutate(&cfg)
		_, err := New(cfg)
		require.Error(t, err, tt.field)
		require.Contains(t, err.Error(), tt.field+":", "the error names the field")
	}
	_, err := New(jsonConfig("https://gw.example.com"))
	require.NoError(t, err)
}

func TestLookup(t *testing.T) {
	t.Parallel()
	doc, err := decode([]byte(`{"a":{"b":[{"c":"x"},{"c":7.50}],"t":true,"n":null,"o":{}}}`))
	require.NoError(t, err)
	for path, want := range map[string]string{"a.b.0.c": "x", "a.b.1.c": "7.50", "a.t": "true"} {
		got, ok := Lookup(doc, path)
		require.True(t, ok, path)
		require.Equal(t, want, got, path)
	}
	for _, path := range []string{"a.n", "a.o", "a.b", "a.b.2.c", "a.b.x", "a.b.-1.c", "z", "a.t.x"} {
		_, ok := Lookup(doc, path)
		require.False(t, ok, path)
	}
}

func report(query, header, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/callbacks/sms/gw"+query, strings.NewReader(body))
	if header != "" {
		r.Header.Set("X-Token", header)
	}
	return r
}

func TestReceipts(t *testing.T) {
	t.Parallel()
	p, err := New(jsonConfig("https://gw.example.com"))
	require.NoError(t, err)
	rs, err := p.ParseReceipts(report("?key=cb-secret", "", `[
		{"sid":111,"uid":"m1","report":{"stat":0}},
		{"sid":"222","report":{"stat":"1","err":"MK:0001"}},
		{"sid":"333","report":{"stat":"1"}},
		{"sid":"444","report":{"stat":"7"}}]`))
	require.NoError(t, err)
	require.Equal(t, []channels.Receipt{
		{Channel: channels.SMS, Provider: "gw", MessageID: "m1", VendorID: "111", Status: channels.Delivered, At: now},
		{Channel: channels.SMS, Provider: "gw", VendorID: "222", Status: channels.Failed, Reason: "MK:0001", At: now},
		{Channel: channels.SMS, Provider: "gw", VendorID: "333", Status: channels.Failed, Reason: "1", At: now},
	}, rs, "an unmapped status is progress and left out")

	rs, err = p.ParseReceipts(report("?key=cb-secret", "", `{"sid":"9","report":{"stat":0}}`))
	require.NoError(t, err)
	require.Len(t, rs, 1, "a single report object")

	header := jsonConfig("https://gw.example.com")
	header.Receipt.TokenQuery, header.Receipt.TokenHeader, header.Receipt.ItemsPath = "", "X-Token", "data.items"
	header.Receipt.AckBody = "SUCCESS"
	hp, err := New(header)
	require.NoError(t, err)
	rs, err = hp.ParseReceipts(report("", "cb-secret", `{"data":{"items":[{"uid":"m5","report":{"stat":0}}]}}`))
	require.NoError(t, err)
	require.Equal(t, "m5", rs[0].MessageID)
	w := httptest.NewRecorder()
	hp.AckReceipts(w)
	require.Equal(t, "SUCCESS", w.Body.String())
	_, err = hp.ParseReceipts(report("?X-Token=cb-secret", "", `{"data":{"items":[]}}`))
	require.ErrorIs(t, err, channels.ErrUnverified, "a header token is not taken from the query")
}

func TestReceiptsRefused(t *testing.T) {
	t.Parallel()
	p, err := New(jsonConfig("https://gw.example.com"))
	require.NoError(t, err)
	good := `[{"sid":"1","report":{"stat":0}}]`
	for _, q := range []string{"", "?key=", "?key=cb-secre", "?key=CB-SECRET", "?token=cb-secret"} {
		_, err := p.ParseReceipts(report(q, "cb-secret", good))
		require.ErrorIs(t, err, channels.ErrUnverified, q)
	}
	for _, body := range []string{`{`, `[1]`, `[{"sid":"1"}]`, `[{"report":{"stat":0}}]`, `{"a":1} {"b":2}`} {
		_, err := p.ParseReceipts(report("?key=cb-secret", "", body))
		require.Error(t, err, body)
		require.False(t, errors.Is(err, channels.ErrUnverified), body)
	}
	noReceipts := jsonConfig("https://gw.example.com")
	noReceipts.Receipt = nil
	np, err := New(noReceipts)
	require.NoError(t, err)
	_, err = np.ParseReceipts(report("?key=cb-secret", "", good))
	require.ErrorIs(t, err, channels.ErrUnverified, "a gateway configured without reports gets none accepted")
}

func FuzzReceipts(f *testing.F) {
	f.Add(`[{"sid":111,"uid":"m1","report":{"stat":0}}]`)
	f.Add(`{"sid":"9","report":{"stat":"1","err":"x"}}`)
	f.Add(`{"data":{"items":[]}}`)
	f.Add(`null`)
	p, err := New(jsonConfig("https://gw.example.com"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		rs, err := p.ParseReceipts(report("?key=cb-secret", "", body))
		if err != nil {
			if errors.Is(err, channels.ErrUnverified) {
				t.Fatalf("a report with the right token is never unverified: %v", err)
			}
			return
		}
		for _, r := range rs {
			if r.MessageID == "" && r.VendorID == "" {
				t.Fatalf("receipt matches no message: %+v", r)
			}
			if r.Status != channels.Delivered && r.Status != channels.Failed {
				t.Fatalf("status %q", r.Status)
			}
			if r.Status == channels.Failed && r.Reason == "" {
				t.Fatalf("failure without reason: %+v", r)
			}
		}
	})
}
