package wechat

import (
	"sync"
	"time"
)

// sentIndex remembers which Herald message each recent msgid carried. WeChat's
// TEMPLATESENDJOBFINISH event names the msgid and the openid only, never the caller's id, so
// the receipt's MessageID comes from here. The index lives in the process that sent: a push
// reaching another Herald process, or arriving after a restart or after the entry aged out,
// carries the vendor id only.
type sentIndex struct {
	max int
	ttl time.Duration

	mu    sync.Mutex
	ids   map[string]sentEntry
	order []string // insertion order, for dropping the oldest
}

type sentEntry struct {
	messageID string
	at        time.Time
}

func newSentIndex(max int, ttl time.Duration) *sentIndex {
	return &sentIndex{max: max, ttl: ttl, ids: map[string]sentEntry{}}
}

// add records that msgID carried messageID.
func (x *sentIndex) add(msgID, messageID string, now time.Time) {
	if x.max == 0 || msgID == "" {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for len(x.order) > 0 && (len(x.ids) >= x.max || now.Sub(x.ids[x.order[0]].at) > x.ttl) {
		delete(x.ids, x.order[0])
		x.order = x.order[1:]
	}
	if _, ok := x.ids[msgID]; !ok {
		x.order = append(x.order, msgID)
	}
	x.ids[msgID] = sentEntry{messageID: messageID, at: now}
}

// lookup returns the Herald message id msgID carried, if it is still remembered. Entries
// stay until they age out, so a push WeChat repeats finds its message again.
func (x *sentIndex) lookup(msgID string, now time.Time) string {
	x.mu.Lock()
	defer x.mu.Unlock()
	e, ok := x.ids[msgID]
	if !ok || now.Sub(e.at) > x.ttl {
		return ""
	}
	return e.messageID
}
