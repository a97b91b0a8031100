package track

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func newTracker(t testing.TB) *Tracker {
	t.Helper()
	tr, err := NewTracker(testKey, "https://herald.example/")
	require.NoError(t, err)
	return tr
}

func TestTokenRoundTrip(t *testing.T) {
	t.Parallel()
	tr := newTracker(t)
	for _, tok := range []Token{
		{Kind: Open, Channel: channels.Email, MessageID: "20261127-7-0-EMAIL"},
		{Kind: Click, Channel: channels.Email, MessageID: "m1", Link: 3, URL: "https://shop.example/o?id=1&x=%20"},
		{Kind: Event, Channel: channels.AppPush, MessageID: "m2"},
	} {
		s, err := tr.Sign(tok)
		require.NoError(t, err)
		got, err := tr.Parse(s)
		require.NoError(t, err)
		require.Equal(t, tok, got)
	}
}

func TestSignRefusesBadTokens(t *testing.T) {
	t.Parallel()
	tr := newTracker(t)
	for name, tok := range map[string]Token{
		"unknown kind":         {Kind: 'x', Channel: channels.Email, MessageID: "m"},
		"unknown channel":      {Kind: Open, Channel: "FAX", MessageID: "m"},
		"empty id":             {Kind: Open, Channel: channels.Email},
		"open with a URL":      {Kind: Open, Channel: channels.Email, MessageID: "m", URL: "https://a.example"},
		"click to javascript:": {Kind: Click, Channel: channels.Email, MessageID: "m", URL: "javascript:alert(1)"},
		"click to a relative":  {Kind: Click, Channel: channels.Email, MessageID: "m", URL: "/admin"},
		"click to mailto":      {Kind: Click, Channel: channels.Email, MessageID: "m", URL: "mailto:a@b.example"},
	} {
		_, err := tr.Sign(tok)
		require.Error(t, err, name)
	}
}

func TestForgedAndAlteredTokensAreRefused(t *testing.T) {
	t.Parallel()
	tr := newTracker(t)
	genuine, err := tr.Sign(Token{Kind: Click, Channel: channels.Email, MessageID: "m1", URL: "https://shop.example/"})
	require.NoError(t, err)

	other, err := NewTracker([]byte("another key of thirty-two bytes!!"), "https://herald.example")
	require.NoError(t, err)
	foreign, err := other.Sign(Token{Kind: Click, Channel: channels.Email, MessageID: "m1", URL: "https://evil.example/"})
	require.NoError(t, err)

	raw, err := enc.DecodeString(genuine)
	require.NoError(t, err)
	retarget := bytes.Replace(raw, []byte("shop"), []byte("evil"), 1)

	cases := map[string]string{
		"signed with another key": foreign,
		"payload altered":         enc.EncodeToString(retarget),
		"truncated":               genuine[:len(genuine)-4],
		"empty":                   "",
		"not base64":              "!!!",
		"too long":                strings.Repeat("A", MaxTokenLen+1),
	}
	// Every single-character change anywhere in the token.
	for i := range genuine {
		b := []byte(genuine)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		cases[fmt.Sprintf("character %d changed", i)] = string(b)
	}
	for name, s := range cases {
		_, err := tr.Parse(s)
		require.ErrorIs(t, err, ErrInvalid, name)
	}
}

func TestRewriteHTML(t *testing.T) {
	t.Parallel()
	tr := newTracker(t)
	body := `<html><body><p>Hi &lt;b&gt;</p>` +
		`<a href="https://shop.example/o?id=1&amp;lang=en">order</a> ` +
		`<A class=x HREF='http://news.example/'>news</A> ` +
		`<a href="mailto:help@shop.example">mail</a> <a href="#top">top</a> <a href="/rel">rel</a> ` +
		`<!-- <a href="https://comment.example/">not a link</a> -->` +
		`<a name=x>no href</a></body></html>`
	got, err := tr.RewriteHTML(channels.Email, "m-42", body)
	require.NoError(t, err)
	require.Equal(t, []string{"https://shop.example/o?id=1&lang=en", "http://news.example/"}, got.Links)

	require.NotContains(t, got.HTML, `href="https://shop.example`, "tracked links are rewritten")
	require.Contains(t, got.HTML, `<a href="mailto:help@shop.example">`, "mailto untouched")
	require.Contains(t, got.HTML, `<a href="#top">`, "anchors untouched")
	require.Contains(t, got.HTML, `<a href="/rel">`, "relative links untouched")
	require.Contains(t, got.HTML, `<!-- <a href="https://comment.example/">not a link</a> -->`, "comments untouched")
	require.Contains(t, got.HTML, `<p>Hi &lt;b&gt;</p>`, "text copied byte for byte")
	require.Contains(t, got.HTML, `<A class=x HREF="https://herald.example/t/c/`)

	// Each rewritten link carries its own index and target.
	for i, target := range got.Links {
		_, after, ok := strings.Cut(got.HTML, "/t/c/")
		require.True(t, ok)
		for range i {
			_, after, _ = strings.Cut(after, "/t/c/")
		}
		tokStr := after[:strings.IndexAny(after, `"'`)]
		tok, err := tr.Parse(tokStr)
		require.NoError(t, err)
		require.Equal(t, Token{Kind: Click, Channel: channels.Email, MessageID: "m-42", Link: i, URL: target}, tok)
	}

	// The pixel sits before </body>.
	i := strings.Index(got.HTML, `<img src="https://herald.example/t/o/`)
	require.Positive(t, i)
	require.Equal(t, i+strings.Index(got.HTML[i:], "</body>"), strings.Index(got.HTML, "</body>"))
	require.True(t, strings.HasSuffix(got.HTML, "</body></html>"))
}

func TestRewriteHTMLWithoutBodyAppendsPixel(t *testing.T) {
	t.Parallel()
	got, err := newTracker(t).RewriteHTML(channels.Email, "m", "<p>hello</p>")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(got.HTML, "<p>hello</p><img src="))
	require.Empty(t, got.Links)
}

// queue records what the handler queues.
type queue struct {
	mu   sync.Mutex
	got  []channels.Receipt
	fail error
}

func (q *queue) add(_ context.Context, rs []channels.Receipt) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail != nil {
		return q.fail
	}
	q.got = append(q.got, rs...)
	return nil
}

func (q *queue) receipts() []channels.Receipt {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]channels.Receipt(nil), q.got...)
}

var fixedNow = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func newServer(t *testing.T) (*Tracker, *queue, *httptest.Server) {
	t.Helper()
	tr := newTracker(t)
	q := &queue{}
	h := NewHandler(HandlerConfig{Tracker: tr, QueueFunc: q.add, NowFunc: func() time.Time { return fixedNow }})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /t/c/{token}", h.Click)
	mux.HandleFunc("GET /t/o/{file}", h.Open)
	mux.HandleFunc("POST /t/e", h.Events)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return tr, q, srv
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func TestClickRedirectsToTheSignedLinkOnly(t *testing.T) {
	t.Parallel()
	tr, q, srv := newServer(t)
	u, err := tr.ClickURL(channels.Email, "m-7", 0, "https://shop.example/sale?x=1")
	require.NoError(t, err)
	u = strings.Replace(u, "https://herald.example", srv.URL, 1)

	resp, err := noRedirect.Get(u)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, "https://shop.example/sale?x=1", resp.Header.Get("Location"))
	require.Equal(t, []channels.Receipt{{Channel: channels.Email, Provider: Provider, MessageID: "m-7", Status: channels.Clicked, At: fixedNow}}, q.receipts())

	// A forged token, an altered one, an open token and a token with a target appended never
	// redirect and record nothing.
	open, err := tr.OpenURL(channels.Email, "m-7")
	require.NoError(t, err)
	openTok := strings.TrimSuffix(open[strings.LastIndex(open, "/")+1:], ".gif")
	tok := u[strings.LastIndex(u, "/")+1:]
	other, err := NewTracker([]byte("another key of thirty-two bytes!!"), srv.URL)
	require.NoError(t, err)
	forged, err := other.ClickURL(channels.Email, "m-7", 0, "https://evil.example/")
	require.NoError(t, err)
	for _, bad := range []string{
		forged,
		srv.URL + "/t/c/" + tok[:len(tok)-1] + flip(tok[len(tok)-1]),
		srv.URL + "/t/c/" + openTok,
		srv.URL + "/t/c/" + tok + "?url=https://evil.example/",
		srv.URL + "/t/c/x",
	} {
		bad = strings.Replace(bad, other.base, srv.URL, 1)
		resp, err := noRedirect.Get(bad)
		require.NoError(t, err)
		resp.Body.Close()
		if strings.Contains(bad, "?url=") {
			// The query is ignored: the redirect is still the signed target.
			require.Equal(t, "https://shop.example/sale?x=1", resp.Header.Get("Location"))
			continue
		}
		require.Equal(t, http.StatusNotFound, resp.StatusCode, bad)
		require.Empty(t, resp.Header.Get("Location"), bad)
	}
	require.Len(t, q.receipts(), 2, "only the genuine clicks were recorded")
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestOpenPixel(t *testing.T) {
	t.Parallel()
	tr, q, srv := newServer(t)
	u, err := tr.OpenURL(channels.Email, "m-8")
	require.NoError(t, err)
	u = strings.Replace(u, "https://herald.example", srv.URL, 1)
	resp, err := http.Get(u)
	require.NoError(t, err)
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "image/gif", resp.Header.Get("Content-Type"))
	require.Contains(t, resp.Header.Get("Cache-Control"), "no-store")
	require.Equal(t, pixelGIF, body.Bytes())
	require.Equal(t, []channels.Receipt{{Channel: channels.Email, Provider: Provider, MessageID: "m-8", Status: channels.Displayed, At: fixedNow}}, q.receipts())

	resp, err = http.Get(strings.TrimSuffix(u, ".gif"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "the pixel is a .gif")
	click, err := tr.ClickURL(channels.Email, "m-8", 0, "https://a.example/")
	require.NoError(t, err)
	resp, err = http.Get(srv.URL + "/t/o/" + click[strings.LastIndex(click, "/")+1:] + ".gif")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "a click token is no pixel")
	require.Len(t, q.receipts(), 1)
}

func postEvents(t *testing.T, srv *httptest.Server, body any) (int, map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	resp, err := http.Post(srv.URL+"/t/e", "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func TestEvents(t *testing.T) {
	t.Parallel()
	tr, q, srv := newServer(t)
	tok, err := tr.EventToken(channels.AppPush, "m-9")
	require.NoError(t, err)
	earlier := fixedNow.Add(-time.Minute)
	status, out := postEvents(t, srv, map[string]any{"events": []map[string]any{
		{"token": tok, "event": "DISPLAYED", "at": earlier},
		{"message_id": "m-10", "signature": tr.EventSignature("m-10"), "channel": "APP_PUSH", "event": "CLICKED", "at": fixedNow.Add(time.Hour)},
	}})
	require.Equal(t, http.StatusOK, status, out)
	require.Equal(t, float64(2), out["accepted"])
	require.Equal(t, []channels.Receipt{
		{Channel: channels.AppPush, Provider: Provider, MessageID: "m-9", Status: channels.Displayed, At: earlier},
		{Channel: channels.AppPush, Provider: Provider, MessageID: "m-10", Status: channels.Clicked, At: fixedNow},
	}, q.receipts(), "a time ahead of Herald's clock is clamped to now")

	click, err := tr.Sign(Token{Kind: Click, Channel: channels.Email, MessageID: "m-9", URL: "https://a.example/"})
	require.NoError(t, err)
	for _, c := range []struct {
		body   any
		status int
		field  string
	}{
		{map[string]any{"events": []map[string]any{{"token": tok, "event": "DELIVERED"}}}, 400, "events[0].event"},
		{map[string]any{"events": []map[string]any{{"token": tok, "event": "CLICKED"}, {"message_id": "m-11", "signature": tr.EventSignature("m-12"), "event": "CLICKED"}}}, 401, "events[1].signature"},
		{map[string]any{"events": []map[string]any{{"token": click, "event": "CLICKED"}}}, 401, "events[0].token"},
		{map[string]any{"events": []map[string]any{{"token": tok + "x", "event": "CLICKED"}}}, 401, "events[0].token"},
		{map[string]any{"events": []map[string]any{{"event": "CLICKED"}}}, 400, "events[0].token"},
		{map[string]any{"events": []map[string]any{}}, 400, "events"},
		{map[string]any{"evnts": []map[string]any{}}, 400, "body"},
		{map[string]any{"events": []map[string]any{{"message_id": "m", "signature": tr.EventSignature("m"), "channel": "FAX", "event": "CLICKED"}}}, 400, "events[0].channel"},
	} {
		status, out := postEvents(t, srv, c.body)
		require.Equal(t, c.status, status, out)
		require.Equal(t, c.field, out["field"], out)
	}
	require.Len(t, q.receipts(), 2, "refused batches record nothing")
}

func FuzzParse(f *testing.F) {
	tr := newTracker(f)
	for _, tok := range []Token{
		{Kind: Open, Channel: channels.Email, MessageID: "m"},
		{Kind: Click, Channel: channels.Email, MessageID: "m", Link: 2, URL: "https://a.example/x"},
	} {
		s, err := tr.Sign(tok)
		require.NoError(f, err)
		f.Add(s)
	}
	f.Add("")
	f.Add("AQ")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := tr.Parse(s)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalid)
			return
		}
		// Whatever parses was signed by Herald and re-signs to the same token.
		require.NoError(t, tok.check())
		again, err := tr.Sign(tok)
		require.NoError(t, err)
		require.Equal(t, s, again)
		if tok.Kind == Click {
			require.True(t, Trackable(tok.URL))
		}
	})
}

func FuzzRewriteHTML(f *testing.F) {
	tr := newTracker(f)
	f.Add(`<html><body><a href="https://a.example/x?y=1&amp;z=2">a</a><a href=mailto:x@y>m</a></body></html>`)
	f.Add(`<a href='http://b.example'>b</a><!-- <a href="https://c.example"> --><script>"<a href='https://d.example'>"</script>`)
	f.Add(`<a href="https://e.example" href="https://f.example"><a =x href=https://g.example/>`)
	f.Fuzz(func(t *testing.T, body string) {
		got, err := tr.RewriteHTML(channels.Email, "m", body)
		require.NoError(t, err)
		require.Equal(t, 1, strings.Count(got.HTML, "https://herald.example/t/o/")-strings.Count(body, "https://herald.example/t/o/"), "one pixel")
		require.Equal(t, len(got.Links), strings.Count(got.HTML, "https://herald.example/t/c/")-strings.Count(body, "https://herald.example/t/c/"))
		for _, l := range got.Links {
			require.True(t, Trackable(l), l)
		}
	})
}
