package dingtalk

import (
	"testing"
	"time"

	"github.com/herald-msg/herald/channels"
)

// FuzzSendResult feeds arbitrary getsendresult answers to the parser and the receipt
// mapping: no panic, receipts only for the task's users, only valid statuses, and never a
// second receipt of a final state.
func FuzzSendResult(f *testing.F) {
	f.Add([]byte(`{"errcode":0,"errmsg":"ok","send_result":{"invalid_user_id_list":["u4"],"forbidden_user_id_list":["u2"],"failed_user_id_list":[],"read_user_id_list":["u1"],"unread_user_id_list":["u3"],"invalid_dept_id_list":[],"forbidden_list":[{"code":"143105","count":1,"userid":"u2"}]},"request_id":"abc"}`))
	f.Add([]byte(`{"errcode":0,"send_result":{}}`))
	f.Add([]byte(`{"errcode":88,"sub_code":"40014","errmsg":"x"}`))
	f.Add([]byte(`{"errcode":0}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ans, err := ParseResultAnswer(body)
		if err != nil || ans.SendResult == nil {
			return
		}
		ids := map[string]string{"u1": "m1", "u2": "m2", "u3": "m3"}
		state := map[string]userState{"u1": pending, "u2": delivered, "u3": failed}
		rs, next := receiptsOf("dt", 5, ids, state, ans.SendResult, time.Unix(1, 0))
		for _, r := range rs {
			if _, ok := ids[r.Address]; !ok {
				t.Fatalf("receipt for a user the task does not know: %q", r.Address)
			}
			if r.Address == "u3" {
				t.Fatal("a second receipt for a user already FAILED")
			}
			switch r.Status {
			case channels.Delivered, channels.Displayed, channels.Failed:
			default:
				t.Fatalf("unexpected status %q", r.Status)
			}
			if r.VendorID != "5:"+r.Address || r.MessageID != ids[r.Address] {
				t.Fatalf("receipt ids %q/%q for %q", r.VendorID, r.MessageID, r.Address)
			}
		}
		for u := range next {
			if _, ok := ids[u]; !ok {
				t.Fatalf("state for an unknown user %q", u)
			}
		}
	})
}
