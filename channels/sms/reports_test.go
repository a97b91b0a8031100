package sms

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// FuzzFastReportsAgreeWithEncodingJSON: whatever fastReports accepts, encoding/json decodes
// to the same reports; and parseReports always answers as encoding/json does.
func FuzzFastReportsAgreeWithEncodingJSON(f *testing.F) {
	for _, seed := range []string{
		`[{"phone_number":"13800138000","send_time":"2026-05-01 11:59:00","report_time":"2026-05-01 11:59:30","success":true,"err_code":"DELIVERED","err_msg":"用户接收成功","sms_size":"1","biz_id":"B1","out_id":"m1"}]`,
		`[ {"out_id":"a","success":false} , {"out_id":"b", "success" : true}]`,
		`[{"out_id":"a\"b"}]`,
		`[{"OUT_ID":"a"}]`,
		`[{"out_id":null}]`,
		`[{"success":"true"}]`,
		`[{"out_id":"a","out_id":"b"}]`,
		`[{"other":1}]`,
		`[{}]`,
		`[] x`,
		`[{"out_id":"\xff"}]`,
		"[{\"out_id\":\"a\tb\"}]",
		`[]`,
		`null`,
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var want []Report
		wantErr := json.Unmarshal(body, &want)
		if got, ok := fastReports(body); ok {
			if wantErr != nil {
				t.Fatalf("fastReports accepted %q, which encoding/json refuses: %v", body, wantErr)
			}
			if len(got) != len(want) || (len(got) > 0 && !reflect.DeepEqual(got, want)) {
				t.Fatalf("fastReports(%q) = %+v, encoding/json %+v", body, got, want)
			}
		}
		got, err := parseReports(body)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("parseReports(%q) error %v, encoding/json %v", body, err, wantErr)
		}
		if err == nil && (len(got) != len(want) || (len(got) > 0 && !reflect.DeepEqual(got, want))) {
			t.Fatalf("parseReports(%q) = %+v, encoding/json %+v", body, got, want)
		}
	})
}

func TestFastReportsTakesAliyunsShapeAndLeavesTheRest(t *testing.T) {
	t.Parallel()
	taken := []string{
		`[]`,
		`[{"phone_number":"13800138000","report_time":"2026-05-01 11:59:30","success":true,"err_code":"DELIVERED","err_msg":"用户接收成功","biz_id":"B1","out_id":"m1"}]`,
		" [ {\"out_id\" : \"a\" ,\n \"success\":false} ] ",
	}
	for _, body := range taken {
		_, ok := fastReports([]byte(body))
		if !ok {
			t.Errorf("fastReports left %q to encoding/json", body)
		}
	}
	left := []string{`[{"out_id":"a\"b"}]`, `[{"Out_Id":"a"}]`, `[{"out_id":null}]`, `[{"sms_size":1}]`, `[{"extra":"x"}]`, `[] []`, `{}`, `null`}
	for _, body := range left {
		if _, ok := fastReports([]byte(body)); ok {
			t.Errorf("fastReports took %q", body)
		}
	}
}

// BenchmarkParseReports decodes a callback of 100 reports, the simulator's largest, with
// fastReports and with encoding/json (the raw speed of the component underneath):
//
//	go test -run '^$' -bench ParseReports ./channels/sms/
func BenchmarkParseReports(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("[")
	for i := range 100 {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"phone_number":"138%08d","send_time":"2026-05-01 11:59:00","report_time":"2026-05-01 11:59:30","success":true,"err_code":"DELIVERED","err_msg":"用户接收成功","sms_size":"1","biz_id":"B%d","out_id":"b:20260501-0000001-0000000-0000999"}`, i, i)
	}
	sb.WriteString("]")
	body := []byte(sb.String())
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, ok := fastReports(body); !ok {
				b.Fatal("not taken")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var rs []Report
			if err := json.Unmarshal(body, &rs); err != nil {
				b.Fatal(err)
			}
		}
	})
}
