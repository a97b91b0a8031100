package sms

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/herald-msg/herald/channels"
)

// FuzzAliyunReports posts arbitrary delivery-report bodies to the Aliyun parser. With the
// right token a body is parsed into receipts within the replay window, or refused; with a
// wrong token it is always refused as unverified; nothing panics.
func FuzzAliyunReports(f *testing.F) {
	for _, seed := range []string{
		`[{"phone_number":"13800138000","send_time":"2026-05-01 11:59:00","report_time":"2026-05-01 11:59:30","success":true,"err_code":"DELIVERED","err_msg":"用户接收成功","sms_size":"1","biz_id":"B1","out_id":"m1"}]`,
		`[{"phone_number":"13800138001","report_time":"2026-05-01 11:00:00","success":false,"err_code":"MK:0001","err_msg":"用户关机","out_id":"m2"}]`,
		`[{"report_time":"2026-04-01 11:00:00","success":true,"out_id":"old"},{"report_time":"2026-05-01 11:59:59","success":true,"out_id":"new"}]`,
		`[{"report_time":"2026-05-01 12:30:00","success":true,"out_id":"future"}]`,
		`[{"report_time":"","success":"yes"}]`,
		`{"not":"an array"}`,
		`[]`,
		`null`,
		``,
	} {
		f.Add(seed, "tok")
	}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, ChinaTime)
	f.Fuzz(func(t *testing.T, body, token string) {
		a, err := NewAliyun(AliyunConfig{Endpoint: "http://vendor.invalid", AccessKeyID: "key", AccessKeySecret: "secret", CallbackToken: "tok",
			NowFunc: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, "/callbacks/sms", strings.NewReader(body))
		req.URL.RawQuery = "token=" + strings.ReplaceAll(token, "&", "")
		got, err := a.ParseReceipts(req)
		if req.URL.Query().Get("token") != "tok" {
			if !errors.Is(err, channels.ErrUnverified) {
				t.Fatalf("token %q was not refused as unverified: %v", token, err)
			}
			return
		}
		if err != nil {
			return
		}
		for _, r := range got {
			if r.Status != channels.Delivered && r.Status != channels.Failed {
				t.Fatalf("status %q passed", r.Status)
			}
			if age := now.Sub(r.At); age > DefaultReportMaxAge || -age > ReportMaxAhead {
				t.Fatalf("a report of %s, outside the replay window, passed", r.At)
			}
			if r.Channel != channels.SMS || r.Provider != "aliyun" {
				t.Fatalf("receipt %+v", r)
			}
		}
	})
}
