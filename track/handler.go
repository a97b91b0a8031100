package track

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/herald-msg/herald/channels"
)

// Provider is the provider name of the receipts tracking produces.
const Provider = "track"

// MaxEvents bounds the events of one POST /t/e.
const MaxEvents = 100

// pixelGIF is a transparent 1×1 GIF.
var pixelGIF = []byte{
	0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
}

// HandlerConfig configures a Handler.
type HandlerConfig struct {
	Tracker *Tracker
	// QueueFunc queues receipts durably, as the callback handler does
	// (dispatch.QueueReceipts).
	QueueFunc func(ctx context.Context, rs []channels.Receipt) error
	Logger    *slog.Logger
	// NowFunc is the clock; default time.Now.
	NowFunc func() time.Time
}

// Handler serves Herald's tracking endpoints. Every event it accepts becomes a receipt
// queued like a vendor's, so statuses, rollups and fallback milestones follow; statuses
// only move forward, so a repeated event changes nothing, and an event for a message that
// does not exist is ignored by the receipt consumer.
type Handler struct {
	tracker *Tracker
	queue   func(ctx context.Context, rs []channels.Receipt) error
	logger  *slog.Logger
	now     func() time.Time
}

// NewHandler returns the tracking handler.
func NewHandler(cfg HandlerConfig) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	return &Handler{tracker: cfg.Tracker, queue: cfg.QueueFunc, logger: cfg.Logger.With("component", "track"), now: cfg.NowFunc}
}

// Click serves GET /t/c/{token}: a valid click token is recorded as CLICKED and redirected
// (302) to the URL it carries; any other token gets 404 and no redirect.
func (h *Handler) Click(w http.ResponseWriter, r *http.Request) {
	tok, err := h.tracker.Parse(r.PathValue("token"))
	if err != nil || tok.Kind != Click {
		h.logger.Warn("invalid click token refused", "remote_addr", r.RemoteAddr)
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	h.record(r.Context(), tok, channels.Clicked)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, tok.URL, http.StatusFound)
}

// Open serves GET /t/o/{token}.gif: a valid open token is recorded as DISPLAYED and
// answered with a transparent 1×1 GIF that no cache keeps.
func (h *Handler) Open(w http.ResponseWriter, r *http.Request) {
	name, isGIF := strings.CutSuffix(r.PathValue("file"), ".gif")
	tok, err := h.tracker.Parse(name)
	if !isGIF || err != nil || tok.Kind != Open {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	h.record(r.Context(), tok, channels.Displayed)
	w.Header().Set("Content-Type", "image/gif")
	w.Header().Set("Cache-Control", "no-store, no-cache, must-revalidate, private, max-age=0")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Expires", "0")
	_, _ = w.Write(pixelGIF)
}

// record queues one receipt. The person who opened or clicked is not kept waiting for
// Herald's queue: a failure is logged and the answer goes out all the same.
func (h *Handler) record(ctx context.Context, tok Token, status channels.Status) {
	rc := channels.Receipt{Channel: tok.Channel, Provider: Provider, MessageID: tok.MessageID, Status: status, At: h.now()}
	if err := h.queue(ctx, []channels.Receipt{rc}); err != nil {
		h.logger.Error("error queuing a tracking event", "message_id", tok.MessageID, "status", status, "error", err)
	}
}

// EventInput is one event of POST /t/e.
type EventInput struct {
	// Token is the message's event token (Tracker.EventToken); or MessageID and Signature.
	Token     string `json:"token,omitempty"`
	MessageID string `json:"message_id,omitempty"`
	Signature string `json:"signature,omitempty"`
	// Channel names the channel of a {message_id, signature} event; optional.
	Channel channels.Channel `json:"channel,omitempty"`
	// Event is DISPLAYED or CLICKED.
	Event channels.Status `json:"event"`
	// At is when it happened (RFC 3339); now when absent, and never later than now.
	At time.Time `json:"at,omitempty"`
}

// EventsInput is the body of POST /t/e.
type EventsInput struct {
	Events []EventInput `json:"events"`
}

// Events serves POST /t/e: a batch of display and click events from an app SDK, each
// authenticated by its token or signature. The batch is all or nothing: a malformed event
// answers 400 and an unverified one 401, naming the event, and nothing is recorded.
func (h *Handler) Events(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	r.Body = http.MaxBytesReader(w, r.Body, 256<<10)
	var in EventsInput
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "body", "must be a JSON object {\"events\": [...]}: "+err.Error())
		return
	}
	rs, field, err := h.receipts(in)
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, ErrInvalid) {
			status = http.StatusUnauthorized
			h.logger.Warn("unverified tracking event refused", "field", field, "remote_addr", r.RemoteAddr)
		}
		writeError(w, status, field, err.Error())
		return
	}
	if err := h.queue(r.Context(), rs); err != nil {
		h.logger.Error("error queuing tracking events", "events", len(rs), "error", err)
		writeError(w, http.StatusServiceUnavailable, "", "try again")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]int{"accepted": len(rs)})
}

// Preflight answers the CORS preflight of POST /t/e: events are authenticated by their
// tokens, never by cookies, so any origin (a web SDK) may post them.
func (h *Handler) Preflight(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Allow-Methods", "POST")
	w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
	w.Header().Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// receipts validates and verifies every event; on failure it names the offending field.
func (h *Handler) receipts(in EventsInput) ([]channels.Receipt, string, error) {
	if len(in.Events) == 0 {
		return nil, "events", errors.New("must hold at least one event")
	}
	if len(in.Events) > MaxEvents {
		return nil, "events", fmt.Errorf("holds %d events; at most %d", len(in.Events), MaxEvents)
	}
	now := h.now()
	out := make([]channels.Receipt, 0, len(in.Events))
	for i, ev := range in.Events {
		f := fmt.Sprintf("events[%d]", i)
		if ev.Event != channels.Displayed && ev.Event != channels.Clicked {
			return nil, f + ".event", fmt.Errorf("%q is not DISPLAYED or CLICKED", ev.Event)
		}
		rc := channels.Receipt{Provider: Provider, Status: ev.Event, At: ev.At}
		switch {
		case ev.Token != "" && (ev.MessageID != "" || ev.Signature != ""):
			return nil, f, errors.New("give either token or message_id and signature, not both")
		case ev.Token != "":
			tok, err := h.tracker.Parse(ev.Token)
			if err != nil || tok.Kind != Event {
				return nil, f + ".token", ErrInvalid
			}
			rc.Channel, rc.MessageID = tok.Channel, tok.MessageID
		case ev.MessageID != "":
			if ev.Channel != "" && !ev.Channel.Valid() {
				return nil, f + ".channel", fmt.Errorf("%q is not a channel", ev.Channel)
			}
			if len(ev.MessageID) > maxIDLen || !h.tracker.verifyEventSignature(ev.MessageID, ev.Signature) {
				return nil, f + ".signature", ErrInvalid
			}
			rc.Channel, rc.MessageID = ev.Channel, ev.MessageID
		default:
			return nil, f + ".token", errors.New("is required (or message_id and signature)")
		}
		if rc.At.IsZero() || rc.At.After(now) {
			rc.At = now // a device clock ahead of Herald's does not move events into the future
		}
		out = append(out, rc)
	}
	return out, "", nil
}

func writeError(w http.ResponseWriter, status int, field, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body := map[string]string{"error": msg}
	if field != "" {
		body["field"] = field
	}
	_ = json.NewEncoder(w).Encode(body)
}
