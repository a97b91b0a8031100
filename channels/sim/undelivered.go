package sim

import (
	"hash/fnv"
	"math"

	"github.com/herald-msg/herald/channels"
)

// What each vendor reports for a message picked by the undelivered rate: a message it
// accepted that the recipient's network, device or account could not take.
const (
	// undelivAliyunCode is the carrier status Alibaba Cloud passes through in err_code of
	// an SMS report that failed at the operator (MK:xxxx: the handset is off, suspended or
	// out of service).
	undelivAliyunCode = "MK:0012"
	undelivAliyunMsg  = "用户停机、关机或暂停服务"
	// undelivVoiceCode is Dyvmsapi's call status of a callee whose phone is powered off.
	undelivVoiceCode = "200010"
	undelivVoiceMsg  = "被叫关机"
	// undelivSMSGW is the generic gateway's report status and error of an undeliverable SMS.
	undelivSMSGW      = "UNDELIV"
	undelivSMSGWError = "MK:0012"
	// undelivGetuiCode is the code of a Getui receipt line whose message expired before the
	// offline device came back (any code but 200 is a failure).
	undelivGetuiCode = "20003"
	undelivGetuiDesc = "消息过期，设备离线未送达"
	// undelivMQTTReason is the reason of a device's FAILED ack.
	undelivMQTTReason = "DEVICE_UNREACHABLE: the device did not take the message before it expired"
	// undelivWebhookReason is the reason of a receiver's FAILED receipt.
	undelivWebhookReason = "recipient unreachable: the receiver could not deliver the message"
	// undelivDSNStatus and undelivDSNDiagnostic are the DSN of a mailbox that refuses mail.
	undelivDSNStatus     = "5.2.2"
	undelivDSNDiagnostic = "smtp; 552 5.2.2 The email account that you tried to reach is over quota"
)

// undelivered reports whether the accepted message the vendor knows as key (its vendor id,
// with the address where one id covers several) gets an undelivered final receipt, and
// counts it in Stats.Undelivered. The choice is deterministic per message: the FNV-1a hash
// of key, as a fraction of 2^64, is compared with the undelivered rate in force, so the
// same vendor id always gets the same fate at the same rate. Callers ask only for ordinary
// addresses: test addresses keep their fixed behaviour.
func (s *Server) undelivered(ch channels.Channel, key string) bool {
	r := s.inject.load().UndeliveredRate
	if !pickUndelivered(key, r) {
		return false
	}
	s.store.add(undeliveredCount, ch, 1)
	return true
}

// behaviorName is the Behavior /sim/messages shows for an accepted message: its test-address
// behaviour, or "undelivered" when the undelivered rate picked it.
func behaviorName(b behavior, undelivered bool) string {
	if undelivered {
		return "undelivered"
	}
	return b.String()
}

// pickUndelivered is the choice of undelivered for a rate r.
func pickUndelivered(key string, r float64) bool {
	if r <= 0 {
		return false
	}
	if r >= 1 {
		return true
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return float64(h.Sum64())/math.MaxUint64 < r
}
