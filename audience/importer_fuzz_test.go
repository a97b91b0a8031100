package audience

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/herald-msg/herald/fault"
)

// FuzzImportCSV feeds arbitrary files through everything Import does before the database:
// encoding detection, CSV reading, the header and every row's validation. Whatever the
// file, nothing panics, every user handed to the writers is valid as upsertUsers would
// accept it, and every error names a row and a column of the file.
func FuzzImportCSV(f *testing.F) {
	for _, seed := range []string{
		"id,tags,attr.city,SMS,EMAIL\nu1,vip|new,Hangzhou,13800138000,a@example.com\n",
		"\ufeffID,Attr.Level,attr.balance,sms\nu2,3,-12.5e3,+8613800138000|13900139000\n,,,\n",
		"id,attr.ok,attr.n\nu3,TRUE,0123\nu3,false,1e400\n",
		"id,tags\nu4,\"a;b\"\"c\"\nu5,\"broken\n",
		"id,WEBHOOK,APP_PUSH\nu6,http://127.0.0.1/hook,token-1\n",
		"id,attr.\nu7,x\n",
		"id,id\nu8,u8\n",
		"tags\nx\n",
		"id,attr.name\n\xd5\xc5\xc8\xfd,\xc0\xee\xcb\xc4\n", // GBK
		"id,attr.x\nu9,a,b\nu10\n",
		"",
	} {
		f.Add([]byte(seed), false)
	}
	f.Add([]byte("id,attr.name\nu1,\xd5\xc5\n"), true)
	f.Fuzz(func(t *testing.T, file []byte, gbk bool) {
		enc := EncodingAuto
		if gbk {
			enc = EncodingGBK
		}
		text := newImportDecoder(bytes.NewReader(file), enc)
		cr := csv.NewReader(text)
		cr.ReuseRecord = true
		header, err := cr.Read()
		if err != nil {
			return // Import answers an empty or unreadable header with BAD_INPUT
		}
		cols, err := parseImportHeader(header)
		if err != nil {
			if fault.CodeOf(err) != fault.CodeBadInput {
				t.Fatalf("a bad header is %v, want BAD_INPUT", err)
			}
			return
		}
		names := make([]string, len(cols))
		for i, c := range cols {
			names[i] = c.name
		}
		p := &importParser{cr: cr, cols: cols, row: 1, maxErrors: 50}
		outs := []chan *importBatch{make(chan *importBatch, 1), make(chan *importBatch, 1)}
		done := make(chan []*importBatch)
		for _, out := range outs {
			go func() {
				var got []*importBatch
				for b := range out {
					got = append(got, b)
				}
				done <- got
			}()
		}
		err = p.run(context.Background(), 3, outs)
		for _, out := range outs {
			close(out)
		}
		batches := append(<-done, <-done...)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("reading an in-memory file failed: %v", err)
		}

		var users int64
		for _, b := range batches {
			if len(b.users) == 0 || len(b.users) > 3 || len(b.users) != len(b.attrs) {
				t.Fatalf("batch of %d users and %d attribute sets", len(b.users), len(b.attrs))
			}
			for i, u := range b.users {
				users++
				if err := ValidUserID(u.ID); err != nil {
					t.Fatalf("user id %q passed the import: %v", u.ID, err)
				}
				for _, tag := range u.Tags {
					if err := ValidTag(tag); err != nil {
						t.Fatalf("tag %q passed the import: %v", tag, err)
					}
				}
				for _, id := range u.Identities {
					again, err := NormalizeAddress(id.Channel, id.Address)
					if err != nil || again != id.Address {
						t.Fatalf("address %q of %s is not normalised: %q, %v", id.Address, id.Channel, again, err)
					}
				}
				if a, ok := b.attrs[i].(string); ok {
					var m map[string]any
					if err := json.Unmarshal([]byte(a), &m); err != nil || len(a) > MaxImportAttributes {
						t.Fatalf("attributes %q are not a JSON object within the limit: %v", a, err)
					}
				} else if b.attrs[i] != nil {
					t.Fatalf("attributes of type %T", b.attrs[i])
				}
			}
		}
		if users+p.failed != p.rows {
			t.Fatalf("%d users imported and %d rows failed, but %d rows were counted", users, p.failed, p.rows)
		}
		if int64(len(p.errs)) > p.errCount || len(p.errs) > p.maxErrors {
			t.Fatalf("%d errors kept of %d counted, limit %d", len(p.errs), p.errCount, p.maxErrors)
		}
		for _, e := range p.errs {
			if e.Row < 2 || e.Row > p.row {
				t.Fatalf("error on row %d, but rows 2..%d were read", e.Row, p.row)
			}
			if e.Column != "" && !slices.Contains(names, e.Column) {
				t.Fatalf("error names column %q, not one of %v", e.Column, names)
			}
			if !utf8.ValidString(e.Reason) || strings.TrimSpace(e.Reason) == "" {
				t.Fatalf("error reason %q", e.Reason)
			}
		}
	})
}
