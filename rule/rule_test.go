package rule

import (
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr"
	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/fault"
)

// validInput is a rule input that passes validation; tests change one thing in it.
func validInput() Input {
	return Input{
		AppID:     1,
		Name:      "vip first",
		Variables: []Variable{{Name: "amount", Type: "number"}},
		Routes: []Route{
			{When: "user.vip == true && amount > 100", Strategy: Concurrent, Channels: []channels.Channel{channels.AppPush, channels.SMS}},
			{When: `user.city == "Beijing"`, Strategy: Fallback, Channels: []channels.Channel{channels.AppPush, channels.SMS}, FallbackAfter: 30 * time.Second, Until: MilestoneDisplayed},
			{Strategy: Fallback, Channels: []channels.Channel{channels.AppPush, channels.SMS, channels.Email}, FallbackAfter: time.Minute},
		},
	}
}

func requireBadInput(t *testing.T, err error, field string, want ...string) {
	t.Helper()
	require.Error(t, err)
	fe, ok := fault.As(err)
	require.True(t, ok, "not a fault error: %v", err)
	require.Equal(t, fault.CodeBadInput, fe.Code, err.Error())
	require.Equal(t, field, fe.Field, err.Error())
	for _, w := range want {
		require.Contains(t, fe.Message, w)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		change    func(in *Input)
		wantField string // empty: valid
		wantMsg   []string
	}{
		{"valid", func(*Input) {}, "", nil},
		{"single unconditional route", func(in *Input) { in.Routes = in.Routes[2:] }, "", nil},
		{"empty name", func(in *Input) { in.Name = " " }, "input.name", nil},
		{"name too long", func(in *Input) { in.Name = strings.Repeat("x", 101) }, "input.name", nil},
		{"no routes", func(in *Input) { in.Routes = nil }, "input.routes", nil},
		{
			"route after an unconditional one is unreachable", func(in *Input) { in.Routes[0].When = "" },
			"input.routes[1]", []string{"unreachable", "route 0"},
		},
		{
			"last route after an unconditional middle one", func(in *Input) { in.Routes[1].When = "" },
			"input.routes[2]", []string{"unreachable", "route 1"},
		},
		{"unknown strategy", func(in *Input) { in.Routes[0].Strategy = "ROUND_ROBIN" }, "input.routes[0].strategy", nil},
		{"empty channels", func(in *Input) { in.Routes[1].Channels = nil }, "input.routes[1].channels", []string{"at least one"}},
		{"unknown channel", func(in *Input) { in.Routes[0].Channels[1] = "PIGEON" }, "input.routes[0].channels[1]", []string{"PIGEON"}},
		{
			"duplicate channel", func(in *Input) {
				in.Routes[2].Channels = []channels.Channel{channels.SMS, channels.Email, channels.SMS}
			},
			"input.routes[2].channels[2]", []string{"SMS", "twice"},
		},
		{"fallback without fallbackAfter", func(in *Input) { in.Routes[1].FallbackAfter = 0 }, "input.routes[1].fallbackAfter", []string{"FALLBACK"}},
		{"fallback with negative fallbackAfter", func(in *Input) { in.Routes[2].FallbackAfter = -time.Second }, "input.routes[2].fallbackAfter", nil},
		{"unknown milestone", func(in *Input) { in.Routes[1].Until = "READ" }, "input.routes[1].until", []string{"READ"}},
		{"syntax error", func(in *Input) { in.Routes[0].When = "amount >" }, "input.routes[0].when", []string{"line 1, column"}},
		{"unbalanced parenthesis", func(in *Input) { in.Routes[1].When = `(user.city == "x"` }, "input.routes[1].when", []string{"line 1, column"}},
		{"not a boolean", func(in *Input) { in.Routes[0].When = "1 + 2" }, "input.routes[0].when", []string{"invalid condition"}},
		{"too long", func(in *Input) { in.Routes[0].When = strings.Repeat("a", 2001) }, "input.routes[0].when", []string{"2000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := validInput()
			tt.change(&in)
			err := validate(&in)
			if tt.wantField == "" {
				require.NoError(t, err)
				return
			}
			requireBadInput(t, err, tt.wantField, tt.wantMsg...)
		})
	}
}

func TestValidateDefaultsAndCompiles(t *testing.T) {
	t.Parallel()
	in := validInput()
	require.NoError(t, validate(&in))
	require.Equal(t, MilestoneDisplayed, in.Routes[1].Until, "an explicit milestone is kept")
	require.Equal(t, MilestoneDelivered, in.Routes[2].Until, "FALLBACK defaults to DELIVERED")
	require.Empty(t, in.Routes[0].Until, "CONCURRENT has no milestone")
	require.NotNil(t, in.Routes[0].program)
	require.NotNil(t, in.Routes[1].program)
	require.Nil(t, in.Routes[2].program, "no condition, nothing to compile")
}

// env builds a match environment the way dispatch does: user attributes, then send
// variables over them, and the attributes again under user.
func env(attrs, vars map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range attrs {
		out[k] = v
	}
	for k, v := range vars {
		out[k] = v
	}
	out["user"] = attrs
	return out
}

func TestMatch(t *testing.T) {
	t.Parallel()
	in := validInput()
	require.NoError(t, validate(&in))
	validated := &Rule{Routes: in.Routes}
	// A rule as decoded from storage before anything compiled it: Match compiles lazily.
	raw := validInput()
	lazy := &Rule{Routes: raw.Routes}

	tests := []struct {
		name  string
		attrs map[string]any
		vars  map[string]any
		want  int
	}{
		{"first route", map[string]any{"vip": true, "city": "Beijing"}, map[string]any{"amount": 150}, 0},
		{"first true route wins over a later true one", map[string]any{"vip": true, "city": "Beijing"}, map[string]any{"amount": 101.5}, 0},
		{"second route", map[string]any{"vip": false, "city": "Beijing"}, map[string]any{"amount": 150}, 1},
		{"user.<name> reads the attribute, not a variable of that name", map[string]any{"vip": false, "city": "Beijing"}, map[string]any{"city": "Shanghai"}, 1},
		{"a variable does not stand in for user.<name>", map[string]any{"vip": false}, map[string]any{"city": "Beijing"}, 2},
		{"attribute visible by name", map[string]any{"city": "Beijing"}, nil, 1},
		{"erroring condition moves on", map[string]any{"vip": true, "city": "Beijing"}, map[string]any{"amount": "lots"}, 1},
		{"missing attribute is false, not a failure", nil, nil, 2},
	}
	// The erroring case above really errors rather than evaluating to false.
	_, err := expr.Run(validated.Routes[0].program, env(map[string]any{"vip": true}, map[string]any{"amount": "lots"}))
	require.Error(t, err)

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, validated.Match(env(tt.attrs, tt.vars)))
			require.Equal(t, tt.want, lazy.Match(env(tt.attrs, tt.vars)))
		})
	}
}

func TestMatchNoRoute(t *testing.T) {
	t.Parallel()
	r := &Rule{Routes: []Route{
		{When: "score % divisor == 0", Strategy: Concurrent, Channels: []channels.Channel{channels.SMS}},
		{When: "int(code) > 0", Strategy: Concurrent, Channels: []channels.Channel{channels.Email}},
		{When: "amount >", Strategy: Concurrent, Channels: []channels.Channel{channels.Voice}}, // stored before validation existed
		{When: "vip", Strategy: Concurrent, Channels: []channels.Channel{channels.AppPush}},
	}}
	tests := []struct {
		name string
		env  map[string]any
		want int
	}{
		{"division by zero errors and moves on", map[string]any{"score": 4, "divisor": 0, "code": "7"}, 1},
		{"conversion error moves on", map[string]any{"score": 4, "divisor": 3, "code": "x", "vip": true}, 3},
		{"nothing matches", map[string]any{"score": 4, "divisor": 3, "code": "x", "vip": false}, -1},
		{"first of several true", map[string]any{"score": 6, "divisor": 3, "code": "7", "vip": true}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, r.Match(tt.env))
		})
	}
}

func TestConditionsCheckedWhenSaved(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, when, want string
	}{
		{"unknown variable", "amout > 100", "line 1, column 1: unknown name amout"},
		{"type mismatch", `amount > "x"`, "line 1"},
		{"never true", "1 > 2", "always false"},
		{"attribute always allowed", `user.segment == "gold" && amount >= 10`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := validInput()
			in.Routes[0].When = tt.when
			err := validate(&in)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			requireBadInput(t, err, "input.routes[0].when", tt.want)
		})
	}
}
