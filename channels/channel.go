// Package channels holds the contract between Herald's dispatcher and the vendors that carry
// its messages: a Provider sends a batch of rendered messages on one channel and reports a
// result per message; optional interfaces add receipt parsing and batch limits.
package channels

import (
	"context"
	"net/http"
	"time"
)

// Channel names one of Herald's eight delivery channels; the values equal the GraphQL enum.
type Channel string

// The eight channels.
const (
	AppPush  Channel = "APP_PUSH"
	SMS      Channel = "SMS"
	WeChat   Channel = "WECHAT"
	DingTalk Channel = "DINGTALK"
	Voice    Channel = "VOICE"
	RCS      Channel = "RCS"
	Email    Channel = "EMAIL"
	Webhook  Channel = "WEBHOOK"
)

// All lists every channel in display order.
var All = []Channel{AppPush, SMS, WeChat, DingTalk, Voice, RCS, Email, Webhook}

// Valid reports whether c is one of the eight channels.
func (c Channel) Valid() bool {
	for _, k := range All {
		if k == c {
			return true
		}
	}
	return false
}

// Status is a delivery status a provider or a receipt can report.
type Status string

// Statuses reported by providers and receipts; they equal the GraphQL DeliveryStatus values.
const (
	Sent      Status = "SENT"
	Delivered Status = "DELIVERED"
	Displayed Status = "DISPLAYED"
	Clicked   Status = "CLICKED"
	Failed    Status = "FAILED"
)

// Message is one rendered message for one address.
type Message struct {
	// ID is Herald's message id, unique across Herald. Providers pass it to the vendor as the
	// caller's correlation / idempotency id wherever the vendor API has one (Aliyun OutId, ...).
	ID      string
	AppID   int64
	Channel Channel
	Address string
	Title   string
	Body    string
	// Extra holds the channel-specific fields of the template variant (SMS sign name and
	// vendor template code, webhook JSON payload, ...) after rendering.
	Extra map[string]any
	// Variables are the send's variables, for vendors that render their own templates.
	Variables map[string]any
}

// Result is what a provider learned about one message of a batch.
type Result struct {
	MessageID string
	// VendorID is the vendor's id for the message (Aliyun BizId, ...), used to match receipts.
	VendorID string
	// Status is SENT (accepted, a receipt will follow), DELIVERED (the vendor confirmed
	// delivery synchronously) or FAILED.
	Status Status
	// Reason is the vendor's error code and message for a FAILED result.
	Reason string
	// Retryable marks a failure that may succeed later (rate limit, 5xx, timeout).
	Retryable bool
	// CostUnits is what the vendor bills for the message (SMS segments, 1 otherwise).
	CostUnits int
}

// Provider sends messages of one channel through one vendor account.
type Provider interface {
	// Name identifies the provider in configuration, metrics and callback paths.
	Name() string
	// Channel is the channel the provider carries.
	Channel() Channel
	// Send delivers msgs to the vendor and returns one Result per message, in order. An error
	// means no message of the batch is known to have reached the vendor (transport failure)
	// and the whole batch may be retried.
	Send(ctx context.Context, msgs []Message) ([]Result, error)
}

// Receipt is a vendor's report on a message sent earlier.
type Receipt struct {
	Channel   Channel
	Provider  string
	MessageID string // Herald's id when the vendor echoes it back
	// Batch is the batch reference (BatchRef) a vendor echoes for a message sent in a
	// request of several, when it echoes no message id; with Address it finds the message.
	Batch    string
	VendorID string
	Address  string
	Status   Status // DELIVERED, DISPLAYED, CLICKED or FAILED
	Reason   string
	At       time.Time
}

// ReceiptParser is implemented by providers whose vendor posts receipts to Herald. It
// verifies the request (signature, token or secret) and parses every receipt it carries.
type ReceiptParser interface {
	ParseReceipts(r *http.Request) ([]Receipt, error)
}

// ReceiptAcker is implemented by receipt parsers whose vendor expects a particular answer
// body; the callback handler writes it after the receipts were accepted.
type ReceiptAcker interface {
	AckReceipts(w http.ResponseWriter)
}

// ReceiptListener is implemented by providers whose receipts do not come to Herald's
// callback URL but over a connection the provider holds or a result query it polls (MQTT
// device acknowledgements, DingTalk's send-result query). Herald runs ListenReceipts for the
// life of the process; it calls deliver with each batch of receipts and returns when ctx ends.
type ReceiptListener interface {
	ListenReceipts(ctx context.Context, deliver func([]Receipt) error) error
}

// CallbackChallenger is implemented by receipt parsers whose vendor checks the callback URL
// with a GET before it posts receipts (WeChat's echostr handshake, ...); the handler of
// GET /callbacks/{channel}/{provider} calls it.
type CallbackChallenger interface {
	// AnswerChallenge verifies the vendor's GET request and writes the answer it expects,
	// or returns ErrUnverified.
	AnswerChallenge(w http.ResponseWriter, r *http.Request) error
}

// Idempotent is implemented by providers whose vendor recognises a message sent twice under
// the same Herald id (Getui's request_id, ...) and delivers it once. The dispatcher sends such
// a provider's messages again when a stopped worker left their outcome unknown; other
// providers' are not sent again (at most once).
type Idempotent interface {
	DedupesByMessageID() bool
}

// VendorKeyedReceipts is implemented by providers whose vendor's receipts name only its own
// message id (WeChat's msgid): the dispatcher then keeps vendor id → Herald id where every
// Herald process can read it, for as long as receipts may come.
type VendorKeyedReceipts interface {
	ReceiptsByVendorID() bool
}

// BatchLimiter is implemented by providers whose vendor caps the messages per request.
type BatchLimiter interface {
	MaxBatch() int
}
