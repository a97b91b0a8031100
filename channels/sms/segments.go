package sms

import "unicode/utf16"

// Segments returns how many SMS a text is billed as: a text of GSM 7-bit characters fits
// 160 septets in one message and 153 per part when concatenated (characters of the GSM
// extension table take two septets); any other text is sent as UCS-2, 70 UTF-16 units in one
// message and 67 per part. An empty text still costs one message.
func Segments(text string) int {
	septets, gsm := 0, true
	for _, r := range text {
		switch {
		case gsmBasic[r]:
			septets++
		case gsmExtension[r]:
			septets += 2
		default:
			gsm = false
		}
		if !gsm {
			break
		}
	}
	if gsm {
		return parts(septets, 160, 153)
	}
	units := 0
	for _, r := range text {
		units += utf16.RuneLen(r)
	}
	return parts(units, 70, 67)
}

func parts(n, single, multi int) int {
	if n <= single {
		return 1
	}
	return (n + multi - 1) / multi
}

var gsmBasic = func() map[rune]bool {
	const basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	m := make(map[rune]bool, 128)
	for _, r := range basic {
		m[r] = true
	}
	return m
}()

var gsmExtension = map[rune]bool{
	'\f': true, '^': true, '{': true, '}': true, '\\': true, '[': true, '~': true, ']': true, '|': true, '€': true,
}
