package rule

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/fault"
)

// FuzzRuleCondition saves arbitrary route conditions and runs the ones that pass against
// arbitrary variables and user attributes. A condition is refused with BAD_INPUT naming the
// route's when, or accepted and then compiled and evaluated without a panic; evaluation
// only ever picks a route of the rule.
func FuzzRuleCondition(f *testing.F) {
	for _, seed := range []struct {
		when, attrs string
		amount      float64
		name        string
		vip         bool
	}{
		{`amount < 200`, `{"city":"Beijing"}`, 150, "a", false},
		{`user.vip == true && amount > 100`, `{"vip":true}`, 500, "", true},
		{`user.city in ["Beijing", "Shanghai"] or name startsWith "VIP"`, `{"city":"Shanghai"}`, 0, "VIPx", false},
		{`len(name) > 3 && vip`, `{}`, 1, "abcd", true},
		{`user.level >= 3 ? amount > 10 : amount > 1000`, `{"level":4}`, 20, "", false},
		{`at > "2026-01-01T00:00:00Z"`, `{"tags":["a","b"]}`, 0, "", false},
		{`1 / amount > 0.5`, `{}`, 0, "", false},
		{`user.nested.deep.value == 1`, `{"nested":{"deep":null}}`, 0, "", false},
		{`all(1..100, {# > 0}) && amount == amount`, `{}`, 2, "", false},
		{`len(1..100000000) > 0`, `{}`, 0, "", false},
		{`name matches "(a+)+$"`, `{}`, 0, strings.Repeat("a", 30) + "!", false},
		{`user.city ==`, `{}`, 0, "", false},
		{`false`, `{}`, 0, "", false},
		{`unknown > 1`, `{}`, 0, "", false},
		{`amount + "x"`, `{}`, 0, "", false},
	} {
		f.Add(seed.when, seed.attrs, seed.amount, seed.name, seed.vip)
	}
	vars := []Variable{{Name: "amount", Type: "number"}, {Name: "name", Type: "string"}, {Name: "vip", Type: "bool"}, {Name: "at", Type: "time"}}
	f.Fuzz(func(t *testing.T, when, attrsJSON string, amount float64, name string, vip bool) {
		var attrs map[string]any
		if json.Unmarshal([]byte(attrsJSON), &attrs) != nil {
			attrs = map[string]any{}
		}
		env := map[string]any{"amount": amount, "name": name, "vip": vip, "at": "2026-05-01T00:00:00Z"}
		for k, v := range attrs {
			if _, set := env[k]; !set {
				env[k] = v
			}
		}
		env["user"] = attrs

		in := Input{AppID: 1, Name: "fuzz", Variables: vars, Routes: []Route{
			{When: when, Strategy: Concurrent, Channels: []channels.Channel{channels.SMS}},
			{Strategy: Concurrent, Channels: []channels.Channel{channels.Email}},
		}}
		if err := validate(&in); err != nil {
			fe, ok := fault.As(err)
			if !ok || fe.Code != fault.CodeBadInput || (when != "" && fe.Field != "input.routes[0].when") {
				t.Fatalf("condition %q refused with %v, want BAD_INPUT on input.routes[0].when", when, err)
			}
		} else {
			r := &Rule{Name: in.Name, Variables: vars, Routes: in.Routes}
			if err := r.Compile(); err != nil {
				t.Fatalf("condition %q was saved but does not compile: %v", when, err)
			}
			if got := r.Match(env); got != 0 && got != 1 {
				t.Fatalf("condition %q: Match = %d, want route 0 or 1", when, got)
			}
		}

		// A rule saved by an older release compiles leniently; it must evaluate as safely.
		old := &Rule{Name: "old", Routes: []Route{{When: when, Strategy: Concurrent, Channels: []channels.Channel{channels.SMS}}}}
		_ = old.Compile()
		if got := old.Match(env); got != 0 && got != -1 {
			t.Fatalf("condition %q (lenient): Match = %d, want 0 or -1", when, got)
		}
	})
}
