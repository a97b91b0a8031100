package providers

import (
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/smshttp"
)

// SimSMSHTTPConfig is the generic HTTP SMS provider configured, field by field, for the
// simulator's own gateway under /smsgw/ (see channels/sim/smshttp.go): the same mapping an
// operator writes for any other gateway.
func SimSMSHTTPConfig(base string) smshttp.Config {
	return smshttp.Config{
		Name:         "smsgw",
		URL:          base + "/smsgw/v1/messages",
		Method:       "POST",
		Headers:      map[string]string{"Authorization": "Bearer " + SimSecret},
		ContentType:  "application/json",
		BodyTemplate: `{"to": "{{phone}}", "text": "{{text}}", "sign": "{{sign}}", "ref": "{{id}}"}`,
		Sign:         SimSignName,
		Response: smshttp.ResponseConfig{
			VendorIDPath:   "data.id",
			CodePath:       "code",
			SuccessValue:   "0",
			MessagePath:    "message",
			RetryableCodes: []string{"4290", "5000"},
			PermanentCodes: []string{"1000", "1001", "1002"},
		},
		Receipt: &smshttp.ReceiptConfig{
			ItemsPath:     "reports",
			MessageIDPath: "ref",
			VendorIDPath:  "msg_id",
			StatusPath:    "status",
			ReasonPath:    "error",
			AddressPath:   "to",
			StatusMap:     map[string]channels.Status{"DELIVRD": channels.Delivered, "UNDELIV": channels.Failed, "REJECTD": channels.Failed},
			TokenHeader:   "X-Smsgw-Token",
			Token:         SimSecret,
		},
	}
}

// simSMSHTTP is the SMS channel's second provider under sim=: the failover after aliyun.
func simSMSHTTP(t SimTarget) (channels.Provider, error) {
	cfg := SimSMSHTTPConfig(t.URL())
	cfg.HTTPClient = t.Opts.HTTPClient
	cfg.Logger = t.Opts.Logger
	return smshttp.New(cfg)
}
