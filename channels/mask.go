package channels

// MaskPhone hides the middle of a phone number for logs: the four characters before the last
// four become asterisks, so +8613800138000 reads +86138****8000 and 13800138000 reads
// 138****8000. Numbers of eight characters or fewer keep only their last two.
func MaskPhone(phone string) string {
	r := []rune(phone)
	n := len(r)
	switch {
	case n == 0:
		return ""
	case n <= 2:
		return "**"
	case n <= 8:
		return "****" + string(r[n-2:])
	}
	return string(r[:n-8]) + "****" + string(r[n-4:])
}
