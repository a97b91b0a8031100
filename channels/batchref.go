package channels

import (
	"slices"
	"strings"
)

// batchSep separates the first and last message id of a batch reference; message ids never
// contain it.
const batchSep = "~"

// BatchRef names a batch of messages sent in one vendor request whose API carries one
// caller id for the whole request (Aliyun's OutId of a SendSms to many numbers): the
// smallest and the largest message id of the batch. Herald's message ids of one job sort by
// position in the task, so the two bound the batch's rows, and a receipt that echoes the
// reference and names its address finds its message among them.
func BatchRef(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return slices.Min(ids) + batchSep + slices.Max(ids)
}

// ParseBatchRef returns the bounds of a reference made by BatchRef.
func ParseBatchRef(ref string) (first, last string, ok bool) {
	first, last, ok = strings.Cut(ref, batchSep)
	if !ok || first == "" || last == "" || first > last || strings.Contains(last, batchSep) {
		return "", "", false
	}
	return first, last, true
}
