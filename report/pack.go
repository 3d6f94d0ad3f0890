package report

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
)

// Bulky parts of the page (the timeline's ops, porcupine's views) are
// embedded gzip-compressed and base64-encoded, and the page inflates them
// with the browser's own DecompressionStream: the report stays one file
// that opens from disk with no network, at a tenth of its JSON size.

// packed returns b gzip-compressed and base64url-encoded without padding.
// That alphabet has nothing html/template or json.Marshal escapes (no <, >,
// &, + or quote), so it goes into a script element or an attribute as it is.
func packed(b []byte) (string, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if err != nil {
		return "", err
	}
	if _, err := zw.Write(b); err != nil {
		return "", fmt.Errorf("compress: %w", err)
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("compress: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(buf.Bytes()), nil
}

// colWriter writes one column of a chunk as unsigned LEB128 varints (the
// page's reader is readU in report.js). Columns are written one after the
// other, so gzip sees long runs of similar numbers.
type colWriter struct{ bytes.Buffer }

func (w *colWriter) u(v uint64) {
	var b [binary.MaxVarintLen64]byte
	w.Write(b[:binary.PutUvarint(b[:], v)])
}

// z writes a signed value zigzag-encoded, so small negatives stay short.
func (w *colWriter) z(v int64) { w.u(uint64(v<<1) ^ uint64(v>>63)) }

// str writes an optional string: 0 is nil, 1 a string (length and UTF-8
// bytes follow), and 2+n a canonical decimal integer n, which is what most
// register values are (unique written numbers) and costs a few bytes.
func (w *colWriter) str(s *string) {
	switch {
	case s == nil:
		w.u(0)
	case isSmallDecimal(*s):
		n, _ := strconv.ParseUint(*s, 10, 64)
		w.u(n + 2)
	default:
		w.u(1)
		w.u(uint64(len(*s)))
		w.WriteString(*s)
	}
}

// isSmallDecimal: digits without a leading zero (or "0"), below 2^53 so
// that the page's numbers hold it exactly.
func isSmallDecimal(s string) bool {
	if s == "" || len(s) > 15 || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
