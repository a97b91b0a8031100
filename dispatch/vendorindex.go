package dispatch

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/herald-msg/herald/channels"
)

// vendorIndexTTL is how long a vendor id finds its message: longer than any vendor keeps
// posting receipts (Aliyun three days, WeChat and DingTalk less).
const vendorIndexTTL = 72 * time.Hour

// vendorKeyed reports whether p's receipts name only the vendor's id, so the dispatcher
// must remember which message each vendor id belongs to.
func vendorKeyed(p channels.Provider) bool {
	v, ok := p.(channels.VendorKeyedReceipts)
	return ok && v.ReceiptsByVendorID()
}

func (w *Worker) vendorKey(provider, vendorID string) string {
	return w.redisPrefix + "vid:" + provider + ":" + vendorID
}

// rememberVendorIDs stores vendor id → message id for the answers of a provider whose
// receipts carry only the vendor's id, in one pipeline. Every Herald process can then match
// such a receipt, whichever process sent the message and across restarts. A Redis failure
// is logged: those receipts are then matched only by the sending process's own memory, if
// the provider keeps one.
func (w *Worker) rememberVendorIDs(ctx context.Context, p channels.Provider, pairs map[string]string) {
	if w.redis == nil || len(pairs) == 0 {
		return
	}
	pipe := w.redis.Pipeline()
	for vendorID, messageID := range pairs {
		pipe.Set(ctx, w.vendorKey(p.Name(), vendorID), messageID, vendorIndexTTL)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		w.logger.WarnContext(ctx, "error remembering vendor ids; their receipts may go unmatched", "provider", p.Name(), "messages", len(pairs), "error", err)
	}
}

// resolveVendorIDs sets the message id of receipts that name only a vendor id, with one
// pipeline for the batch, and returns how many it could not resolve: a receipt can overtake
// the worker's note of its vendor id by a few milliseconds.
func (w *Worker) resolveVendorIDs(ctx context.Context, rs []channels.Receipt) (int, error) {
	if w.redis == nil {
		return 0, nil
	}
	var idx []int
	pipe := w.redis.Pipeline()
	var cmds []*redis.StringCmd
	for i, r := range rs {
		if r.MessageID == "" && r.Batch == "" && r.VendorID != "" && r.Provider != "" {
			idx = append(idx, i)
			cmds = append(cmds, pipe.Get(ctx, w.vendorKey(r.Provider, r.VendorID)))
		}
	}
	if len(idx) == 0 {
		return 0, nil
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, err // Redis is away: the receipts wait on the queue rather than being lost
	}
	missing := 0
	for k, i := range idx {
		if id, err := cmds[k].Result(); err == nil {
			rs[i].MessageID = id
		} else {
			missing++
		}
	}
	return missing, nil
}
