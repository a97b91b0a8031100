package sim

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/webhook"
)

func init() {
	registerVendor(vendor{
		name:     vendorWebhook,
		channel:  channels.Webhook,
		routes:   func(s *Server, mux *http.ServeMux) { mux.HandleFunc("/webhook/", s.handleWebhook) },
		receipts: (*Server).webhookReceiptRequest,
	})
}

// handleWebhook is a webhook receiver at /webhook/{anything}: it checks Herald's signature,
// answers 202 and posts a signed receipt to {Callback}/callbacks/webhook later.
func (s *Server) handleWebhook(w http.ResponseWriter, r *http.Request) {
	s.pause(r.Context())
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "POST only"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unreadable body"})
		return
	}
	ts, err := strconv.ParseInt(r.Header.Get(webhook.HeaderTimestamp), 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)).Abs() > webhook.MaxSkew ||
		!webhook.Verify(s.cfg.WebhookSecret, ts, body, r.Header.Get(webhook.HeaderSignature)) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "bad signature"})
		return
	}
	if s.fault() {
		s.store.add(faults, channels.Webhook, 1)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily unavailable"})
		return
	}
	if !s.admit(vendorWebhook, 1) {
		s.store.add(throttled, channels.Webhook, 1)
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": "rate limited"})
		return
	}
	var p webhook.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body is not a Herald payload"})
		return
	}
	address := "http://" + r.Host + r.URL.RequestURI()
	b := addressBehavior(r.URL.RequestURI())
	if b == reject {
		s.store.add(rejected, channels.Webhook, 1)
		writeJSON(w, http.StatusGone, map[string]string{"error": "receiver gone"})
		return
	}
	messageID := r.Header.Get(webhook.HeaderMessageID)
	if messageID == "" {
		messageID = p.ID
	}
	vendorID := s.ids.vendorID("wh")
	content := p.Body
	if p.Title != "" {
		content = p.Title + "\n" + p.Body
	}
	undeliv := b == deliver && s.undelivered(channels.Webhook, vendorID)
	s.store.record(Message{
		Channel: channels.Webhook, Address: address, Content: content, ReceivedAt: time.Now(),
		VendorID: vendorID, MessageID: messageID, Behavior: behaviorName(b, undeliv),
	})
	if b != silent {
		delay := s.cfg.ReceiptDelay
		if b == slow {
			delay = s.cfg.SlowDelay
		}
		rc := webhook.CallbackReceipt{MessageID: messageID, Status: channels.Delivered}
		if undeliv {
			rc.Status, rc.Reason = channels.Failed, undelivWebhookReason
		}
		s.schedule(delay, vendorWebhook, rc)
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": vendorID})
}
