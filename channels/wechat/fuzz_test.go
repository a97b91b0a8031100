package wechat_test

import (
	"strconv"
	"testing"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/wechat"
)

// FuzzParseEvent feeds arbitrary bodies to the event parser: it never panics, and what it
// accepts is a receipt of a numeric MsgID with a known status.
func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(eventXML(wechat.StatusSuccess)))
	f.Add([]byte(eventXML(wechat.StatusUserBlock)))
	f.Add([]byte(eventXML(wechat.StatusSystemFailed)))
	f.Add([]byte(`<xml><MsgType>event</MsgType><Event>subscribe</Event></xml>`))
	f.Add([]byte(`<xml><Encrypt><![CDATA[abc]]></Encrypt></xml>`))
	f.Add([]byte(`<!DOCTYPE xml [<!ENTITY a "aaaa">]><xml>&a;</xml>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := wechat.ParseEvent(body)
		if err != nil {
			return
		}
		rc, ok, err := ev.Receipt("wechat")
		if err != nil || !ok {
			return
		}
		if _, err := strconv.ParseUint(rc.VendorID, 10, 64); err != nil {
			t.Fatalf("receipt with a non-numeric vendor id %q", rc.VendorID)
		}
		switch rc.Status {
		case channels.Delivered:
		case channels.Failed:
			if ev.Status == wechat.StatusSuccess {
				t.Fatalf("success mapped to FAILED")
			}
		default:
			t.Fatalf("unexpected status %q", rc.Status)
		}
		if rc.Provider != "wechat" || rc.Channel != channels.WeChat {
			t.Fatalf("receipt names %s/%s", rc.Channel, rc.Provider)
		}
	})
}

// FuzzDecrypt feeds arbitrary safe-mode payloads to Decrypt: it never panics, and only a
// message sealed for the appid opens.
func FuzzDecrypt(f *testing.F) {
	key, err := wechat.DecodeAESKey(testAESKey)
	if err != nil {
		f.Fatal(err)
	}
	sealed, err := wechat.Encrypt(key, "wxherald", []byte(eventXML(wechat.StatusSuccess)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Add("")
	f.Add("AAAAAAAAAAAAAAAAAAAAAA==")
	f.Fuzz(func(t *testing.T, encrypted string) {
		msg, err := wechat.Decrypt(key, "wxherald", encrypted)
		if err == nil && msg == nil {
			t.Fatal("no error and no message")
		}
	})
}
