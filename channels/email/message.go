package email

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
)

// HeaderMessageID carries Herald's message id in every email, next to the Message-ID.
const HeaderMessageID = "X-Herald-Message-Id"

// Mail is one message ready for SMTP.
type Mail struct {
	// To is the recipient's bare address, for RCPT TO.
	To string
	// MessageID is the Message-ID header without its angle brackets: the vendor id.
	MessageID string
	// Data is the RFC 5322 message, lines ended by CRLF.
	Data []byte
}

// Parts is what an email says.
type Parts struct {
	From      *mail.Address
	To        *mail.Address
	Subject   string
	Text      string
	HTML      string
	HeraldID  string
	MessageID string // without angle brackets
	Date      time.Time
}

// Build writes an RFC 5322 message: the headers (Subject and display names RFC 2047
// encoded when they are not plain ASCII) and a multipart/alternative body with a text/plain
// and a text/html part, both UTF-8 and quoted-printable. A message without HTML is a single
// text/plain part.
func Build(p Parts) ([]byte, error) {
	var b bytes.Buffer
	header := func(k, v string) {
		b.WriteString(k)
		b.WriteString(": ")
		b.WriteString(v)
		b.WriteString("\r\n")
	}
	if strings.ContainsAny(p.HeraldID, "\r\n") || strings.ContainsAny(p.MessageID, "\r\n<>") {
		return nil, fmt.Errorf("message id %q is not one line", p.HeraldID)
	}
	header("From", p.From.String())
	header("To", p.To.String())
	header("Subject", mime.QEncoding.Encode("utf-8", p.Subject))
	header("Date", p.Date.Format(time.RFC1123Z))
	header("Message-ID", "<"+p.MessageID+">")
	header(HeaderMessageID, p.HeraldID)
	header("MIME-Version", "1.0")
	if p.HTML == "" {
		header("Content-Type", "text/plain; charset=utf-8")
		header("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		if err := writeQP(&b, p.Text); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	boundary := newBoundary()
	header("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	for _, part := range []struct{ typ, body string }{{"text/plain", p.Text}, {"text/html", p.HTML}} {
		b.WriteString("--" + boundary + "\r\n")
		header("Content-Type", part.typ+"; charset=utf-8")
		header("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		if err := writeQP(&b, part.body); err != nil {
			return nil, err
		}
		b.WriteString("\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return b.Bytes(), nil
}

// writeQP writes s quoted-printable with CRLF line ends.
func writeQP(b *bytes.Buffer, s string) error {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\n", "\r\n")
	w := quotedprintable.NewWriter(b)
	if _, err := w.Write([]byte(s)); err != nil {
		return err
	}
	return w.Close()
}

func newBoundary() string {
	var r [12]byte
	_, _ = rand.Read(r[:])
	return "herald-" + hex.EncodeToString(r[:])
}
