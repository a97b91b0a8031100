package providers

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/smshttp"
)

func init() {
	accountTypes["sms-http"] = accountType{channels.SMS, buildSMSHTTP}
}

// receiptSettings are the settings of an sms-http account that describe delivery reports;
// with none of them, the gateway is taken to post no reports.
var receiptSettings = []string{"receipt_items_path", "receipt_message_id_path", "receipt_vendor_id_path",
	"receipt_status_path", "receipt_reason_path", "receipt_address_path", "receipt_status_map",
	"receipt_token_header", "receipt_token_query", "receipt_token", "receipt_ack_body", "receipt_ack_content_type"}

// buildSMSHTTP builds the generic HTTP SMS provider from an account of type sms-http
// (docs/channels.md). Each field of smshttp.Config is one flat setting named after it in
// snake case (response.vendorIdPath is response_vendor_id_path); headers are written
// "Name: value; Name2: value2", code lists comma-separated and receipt_status_map as
// "DELIVRD: DELIVERED; UNDELIV: FAILED".
func buildSMSHTTP(name string, s *Settings, opts Options) (channels.Provider, error) {
	cfg := smshttp.Config{
		Name:         name,
		URL:          s.String("url", true),
		Method:       s.String("method", false),
		Headers:      s.Pairs("headers"),
		ContentType:  s.String("content_type", false),
		BodyTemplate: s.String("body_template", false),
		Sign:         s.String("sign", false),
		Response: smshttp.ResponseConfig{
			VendorIDPath:   s.String("response_vendor_id_path", true),
			CodePath:       s.String("response_code_path", false),
			SuccessValue:   s.String("response_success_value", false),
			MessagePath:    s.String("response_message_path", false),
			RetryableCodes: s.List("response_retryable_codes"),
			PermanentCodes: s.List("response_permanent_codes"),
		},
		Concurrency: s.Int("concurrency", 0),
		HTTPClient:  opts.HTTPClient,
		Logger:      opts.Logger,
	}
	hasReceipt := false
	for _, k := range receiptSettings {
		hasReceipt = hasReceipt || s.Has(k)
	}
	if hasReceipt {
		rc := &smshttp.ReceiptConfig{
			ItemsPath:      s.String("receipt_items_path", false),
			MessageIDPath:  s.String("receipt_message_id_path", false),
			VendorIDPath:   s.String("receipt_vendor_id_path", false),
			StatusPath:     s.String("receipt_status_path", true),
			ReasonPath:     s.String("receipt_reason_path", false),
			AddressPath:    s.String("receipt_address_path", false),
			TokenHeader:    s.String("receipt_token_header", false),
			TokenQuery:     s.String("receipt_token_query", false),
			Token:          s.String("receipt_token", true),
			AckBody:        s.String("receipt_ack_body", false),
			AckContentType: s.String("receipt_ack_content_type", false),
		}
		if m := s.Pairs("receipt_status_map"); m != nil {
			rc.StatusMap = make(map[string]channels.Status, len(m))
			for k, v := range m {
				rc.StatusMap[k] = channels.Status(strings.ToUpper(v))
			}
		}
		cfg.Receipt = rc
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	p, err := smshttp.New(cfg)
	if err != nil {
		return nil, settingsError(s.path, name, err)
	}
	return p, nil
}

// smshttpField finds the smshttp.Config field an error of smshttp.New names, as
// response.codePath or bodyTemplate.
var smshttpField = regexp.MustCompile(`\b(?:(?:response|receipt)\.)?[a-z]+(?:[A-Z][a-z]*)*\b`)

// settingsError rewrites an error of smshttp.New, which names the Config field
// ("response.successValue: required with response.codePath"), to name the setting instead
// (provider_accounts[0].settings.response_success_value: ...).
func settingsError(path, name string, err error) error {
	msg := strings.TrimPrefix(err.Error(), fmt.Sprintf("smshttp %q: ", name))
	field, reason, ok := strings.Cut(msg, ": ")
	if !ok || !smshttpField.MatchString(field) || smshttpField.FindString(field) != field {
		return err
	}
	for _, ref := range []string{"response.", "receipt."} {
		reason = replaceFields(reason, ref)
	}
	return fmt.Errorf("%s.settings.%s: %s", path, snakeCase(field), reason)
}

// replaceFields rewrites the Config fields under prefix quoted in a reason to setting names.
func replaceFields(reason, prefix string) string {
	re := regexp.MustCompile(regexp.QuoteMeta(prefix) + `[a-z]+(?:[A-Z][a-z]*)*`)
	return re.ReplaceAllStringFunc(reason, snakeCase)
}

// snakeCase turns a Config field path (receipt.messageIdPath) into its setting name
// (receipt_message_id_path).
func snakeCase(field string) string {
	var b strings.Builder
	for _, r := range field {
		switch {
		case r == '.':
			b.WriteByte('_')
		case unicode.IsUpper(r):
			b.WriteByte('_')
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
