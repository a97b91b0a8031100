package email

import (
	"bufio"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"net/textproto"
	"strings"

	"github.com/herald-msg/herald/channels"
)

// maxDSNBytes bounds a posted bounce; its original message is cut, only its headers matter.
const maxDSNBytes = 1 << 20

// ParseReceipts reads a bounce: a delivery status notification (RFC 3464, a
// multipart/report; report-type=delivery-status, RFC 6522) that the mailbox of the sender
// address forwards to /callbacks/email/{name}?token={CallbackToken} as the raw message.
// Each recipient whose Action is "failed" becomes a FAILED receipt whose reason is its
// Status and Diagnostic-Code; "delivered" becomes DELIVERED; "delayed", "relayed" and
// "expanded" say nothing final and are skipped. The message is matched by the
// X-Herald-Message-Id (or the Message-ID) of the returned original. A post without the
// token is ErrUnverified; a replayed bounce changes nothing (statuses only move forward).
func (p *Provider) ParseReceipts(r *http.Request) ([]channels.Receipt, error) {
	tok := r.URL.Query().Get("token")
	if p.cfg.CallbackToken == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(p.cfg.CallbackToken)) != 1 {
		return nil, fmt.Errorf("email bounce: %w: missing or wrong token", channels.ErrUnverified)
	}
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("email bounce: method %s, want POST", r.Method)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxDSNBytes))
	if err != nil {
		return nil, fmt.Errorf("email bounce: reading body: %w", err)
	}
	reports, err := ParseDSN(body)
	if err != nil {
		return nil, fmt.Errorf("email bounce: %w", err)
	}
	now := p.cfg.NowFunc()
	var out []channels.Receipt
	for _, rep := range reports {
		id := rep.HeraldID
		if id == "" {
			local, domain, ok := strings.Cut(rep.MessageID, "@")
			if !ok || !strings.EqualFold(domain, p.cfg.Domain) {
				return nil, errors.New("email bounce: the returned message is not one Herald sent (no X-Herald-Message-Id, Message-ID of another domain)")
			}
			id = local
		}
		var status channels.Status
		switch rep.Action {
		case "failed":
			status = channels.Failed
		case "delivered":
			status = channels.Delivered
		default:
			continue
		}
		out = append(out, channels.Receipt{
			Channel: channels.Email, Provider: p.cfg.Name, MessageID: id, VendorID: rep.MessageID,
			Address: rep.Recipient, Status: status, Reason: rep.reason(), At: now,
		})
	}
	return out, nil
}

// DSNReport is one recipient of a delivery status notification.
type DSNReport struct {
	Recipient  string // Final-Recipient address
	Action     string // failed, delayed, delivered, relayed or expanded (lower case)
	Status     string // the enhanced status code, e.g. 5.1.1
	Diagnostic string // Diagnostic-Code, e.g. "smtp; 550 5.1.1 No such user"
	MessageID  string // Message-ID of the returned message, without angle brackets
	HeraldID   string // its X-Herald-Message-Id
}

func (d DSNReport) reason() string {
	return strings.TrimSpace(d.Status + " " + d.Diagnostic)
}

// ParseDSN reads a raw multipart/report delivery status notification.
func ParseDSN(raw []byte) ([]DSNReport, error) {
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("not an RFC 5322 message: %w", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || !strings.EqualFold(params["report-type"], "delivery-status") || params["boundary"] == "" {
		return nil, errors.New("not a delivery status notification (multipart/report; report-type=delivery-status)")
	}
	var (
		reports  []DSNReport
		original textproto.MIMEHeader
		sawDSN   bool
	)
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the report: %w", err)
		}
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		switch ct {
		case "message/delivery-status", "message/global-delivery-status":
			if sawDSN {
				return nil, errors.New("more than one delivery-status part")
			}
			sawDSN = true
			if reports, err = readDeliveryStatus(part); err != nil {
				return nil, err
			}
		case "message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers":
			h, err := textproto.NewReader(bufio.NewReader(part)).ReadMIMEHeader()
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("reading the returned message's headers: %w", err)
			}
			original = h
		}
	}
	if !sawDSN {
		return nil, errors.New("the report has no message/delivery-status part")
	}
	if original == nil {
		return nil, errors.New("the report does not return the original message or its headers")
	}
	messageID := strings.Trim(strings.TrimSpace(original.Get("Message-Id")), "<>")
	heraldID := strings.TrimSpace(original.Get(HeaderMessageID))
	if messageID == "" && heraldID == "" {
		return nil, errors.New("the returned message has no Message-ID")
	}
	for i := range reports {
		reports[i].MessageID, reports[i].HeraldID = messageID, heraldID
	}
	return reports, nil
}

// readDeliveryStatus reads the per-message fields, then one block per recipient.
func readDeliveryStatus(r io.Reader) ([]DSNReport, error) {
	tr := textproto.NewReader(bufio.NewReader(io.LimitReader(r, maxDSNBytes)))
	if _, err := tr.ReadMIMEHeader(); err != nil && !errors.Is(err, io.EOF) { // per-message fields
		return nil, fmt.Errorf("delivery-status: %w", err)
	}
	var out []DSNReport
	for {
		h, err := tr.ReadMIMEHeader()
		if len(h) > 0 {
			rep := DSNReport{
				Recipient:  addressOf(h.Get("Final-Recipient")),
				Action:     strings.ToLower(strings.TrimSpace(h.Get("Action"))),
				Status:     strings.TrimSpace(h.Get("Status")),
				Diagnostic: strings.TrimSpace(h.Get("Diagnostic-Code")),
			}
			if rep.Recipient == "" || rep.Action == "" {
				return nil, errors.New("delivery-status: a recipient block without Final-Recipient or Action")
			}
			out = append(out, rep)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("delivery-status: %w", err)
		}
		if len(out) > 1000 {
			return nil, errors.New("delivery-status: too many recipients")
		}
	}
	if len(out) == 0 {
		return nil, errors.New("delivery-status: no recipient")
	}
	return out, nil
}

// addressOf reads "rfc822; user@example.com" (the address type is optional).
func addressOf(field string) string {
	if _, addr, ok := strings.Cut(field, ";"); ok {
		field = addr
	}
	return strings.Trim(strings.TrimSpace(field), "<>")
}

var _ channels.ReceiptParser = (*Provider)(nil)
