package reports

import (
	"context"
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"
)

// StatsCSVHeader is the header line of a statistics export: the dimensions asked for, in the
// order asked, then the metrics.
func StatsCSVHeader(dims []Dimension) []string {
	out := make([]string, 0, len(dims)+12)
	for _, d := range dims {
		out = append(out, strings.ToLower(string(d)))
	}
	return append(out, "total", "sent", "delivered", "displayed", "clicked", "failed", "suppressed", "redundant", "cost",
		"redundant_cost", "saved_by_fallback", "saved_cost")
}

// ExportStats runs a statistics query (authorised and validated as Query is) and writes it
// as CSV to w: a header, one line per row, and a last line "totals" in the first column. Nothing
// is written when the query fails.
func (s *Stats) ExportStats(ctx context.Context, w io.Writer, q StatsQuery) error {
	res, err := s.Query(ctx, q)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(StatsCSVHeader(q.Dimensions)); err != nil {
		return err
	}
	line := make([]string, 0, len(q.Dimensions)+12)
	for i, r := range res.Rows {
		line = line[:0]
		for _, d := range q.Dimensions {
			line = append(line, cell(dimValue(r, d)))
		}
		if err := cw.Write(appendCounts(line, r.Counts)); err != nil {
			return err
		}
		if i%1000 == 999 {
			cw.Flush()
		}
	}
	line = line[:0]
	for i := range q.Dimensions {
		if i == 0 {
			line = append(line, "totals")
		} else {
			line = append(line, "")
		}
	}
	if err := cw.Write(appendCounts(line, res.Totals)); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

func dimValue(r StatsRow, d Dimension) string {
	switch d {
	case DimDay:
		return r.Day
	case DimHour:
		return strconv.Itoa(r.Hour)
	case DimApp:
		return strconv.FormatInt(r.AppID, 10)
	case DimChannel:
		return string(r.Channel)
	case DimTemplate:
		return strconv.FormatInt(r.TemplateID, 10)
	case DimTask:
		return strconv.FormatInt(r.TaskID, 10)
	case DimStatus:
		return string(r.Status)
	}
	return ""
}

func appendCounts(line []string, c Counts) []string {
	for _, n := range []int64{c.Total, c.Sent, c.Delivered, c.Displayed, c.Clicked, c.Failed, c.Suppressed, c.Redundant} {
		line = append(line, strconv.FormatInt(n, 10))
	}
	return append(line, strconv.FormatFloat(c.Cost, 'f', 4, 64), strconv.FormatFloat(c.RedundantCost, 'f', 4, 64),
		strconv.FormatInt(c.Saved, 10), strconv.FormatFloat(c.SavedCost, 'f', 4, 64))
}

// DeliveriesCSVHeader is the header line of a deliveries export.
var DeliveriesCSVHeader = []string{"id", "task_id", "template_id", "user_id", "channel", "address", "provider", "vendor_id", "status",
	"reason", "cost_units", "cost", "created_at", "updated_at"}

// ExportPageSize is the page a deliveries export reads at a time.
const ExportPageSize = MaxDeliveriesPage

// ExportDeliveries writes the deliveries of f (authorised and validated as Deliveries is)
// as CSV to w, oldest first, reading them a page at a time by keyset so that memory stays
// flat for any range; flush, when given, is called after each page. Nothing is written when
// the first page fails.
func (s *Stats) ExportDeliveries(ctx context.Context, w io.Writer, f DeliveryFilter, flush func()) error {
	cw := csv.NewWriter(w)
	var after *DeliveryCursor
	line := make([]string, len(DeliveriesCSVHeader))
	for page := 0; ; page++ {
		ds, more, err := s.Deliveries(ctx, f, ExportPageSize, after)
		if err != nil {
			return err
		}
		if page == 0 {
			if err := cw.Write(DeliveriesCSVHeader); err != nil {
				return err
			}
		}
		for _, d := range ds {
			line = append(line[:0], d.ID, strconv.FormatInt(d.TaskID, 10), strconv.FormatInt(d.TemplateID, 10), cell(d.UserID), string(d.Channel),
				cell(d.Address), cell(d.Provider), cell(d.VendorID), string(d.Status), cell(d.Reason), strconv.Itoa(d.CostUnits),
				strconv.FormatFloat(d.Cost, 'f', 4, 64), d.CreatedAt.UTC().Format(time.RFC3339Nano), d.UpdatedAt.UTC().Format(time.RFC3339Nano))
			if err := cw.Write(line); err != nil {
				return err
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		if flush != nil {
			flush()
		}
		if !more || len(ds) == 0 {
			return nil
		}
		last := ds[len(ds)-1]
		after = &DeliveryCursor{At: last.CreatedAt, ID: last.ID}
	}
}

// cell keeps a spreadsheet from reading a value as a formula: a value that starts with =, @,
// a tab or a carriage return, or with + or - without being a number such as a phone number,
// gets a leading apostrophe.
func cell(v string) string {
	if v == "" {
		return v
	}
	switch v[0] {
	case '=', '@', '\t', '\r':
		return "'" + v
	case '+', '-':
		for _, r := range v[1:] {
			if (r < '0' || r > '9') && r != ' ' && r != '-' && r != '(' && r != ')' && r != '.' {
				return "'" + v
			}
		}
	}
	return v
}
