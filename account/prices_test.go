package account

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/fault"
)

// providerNames stands for the provider registry: SMS through aliyun or spare, push through getui.
func providerNames(ch channels.Channel) []string {
	return map[channels.Channel][]string{channels.SMS: {"aliyun", "spare"}, channels.AppPush: {"getui"}}[ch]
}

func TestUpdateSettingsPricesPerProvider(t *testing.T) {
	t.Parallel()
	db := setup(t).db
	svc, err := NewService(t.Context(), db, Config{SessionTTL: time.Hour, ProviderNamesFunc: providerNames})
	require.NoError(t, err)
	app, err := svc.CreateApp(admin(t), "priced")
	require.NoError(t, err)

	good := DefaultSettings()
	good.Prices = Prices{{Channel: "SMS", Price: 0.05}, {Channel: "SMS", Provider: "aliyun", Price: 0.03}, {Channel: "APP_PUSH", Provider: "getui", Price: 0}}
	_, err = svc.UpdateSettings(admin(t), app.ID, good)
	require.NoError(t, err)
	stored, err := svc.Settings(t.Context(), app.ID)
	require.NoError(t, err)
	require.Equal(t, good.Prices, stored.Prices)

	refused := []struct {
		name   string
		prices Prices
		field  string
	}{
		{"unknown provider of the channel", Prices{{Channel: "SMS", Price: 0.05}, {Channel: "SMS", Provider: "getui", Price: 0.01}}, "input.prices[1].provider"},
		{"provider of a channel without providers", Prices{{Channel: "VOICE", Provider: "aliyun", Price: 0.1}}, "input.prices[0].provider"},
		{"the channel twice", Prices{{Channel: "SMS", Price: 0.05}, {Channel: "EMAIL", Price: 0.001}, {Channel: "SMS", Price: 0.04}}, "input.prices[2]"},
		{"a provider twice", Prices{{Channel: "SMS", Provider: "spare", Price: 0.05}, {Channel: "SMS", Provider: "spare", Price: 0.04}}, "input.prices[1]"},
		{"negative", Prices{{Channel: "SMS", Provider: "aliyun", Price: -0.01}}, "input.prices[0].price"},
		{"not a number", Prices{{Channel: "SMS", Price: math.NaN()}}, "input.prices[0].price"},
		{"infinite", Prices{{Channel: "EMAIL", Price: math.Inf(1)}}, "input.prices[0].price"},
		{"too high", Prices{{Channel: "EMAIL", Price: 1000.5}}, "input.prices[0].price"},
		{"unknown channel", Prices{{Channel: "FAX", Price: 1}}, "input.prices[0].channel"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			st := DefaultSettings()
			st.Prices = tt.prices
			_, err := svc.UpdateSettings(admin(t), app.ID, st)
			requireCode(t, err, fault.CodeBadInput, tt.field)
			after, err := svc.Settings(t.Context(), app.ID)
			require.NoError(t, err)
			require.Equal(t, good.Prices, after.Prices, "nothing changed")
		})
	}

	// Without a provider list, no price may name a provider.
	plain, err := NewService(t.Context(), db, Config{SessionTTL: time.Hour})
	require.NoError(t, err)
	_, err = plain.UpdateSettings(admin(t), app.ID, good)
	requireCode(t, err, fault.CodeBadInput, "input.prices[1].provider")
}

func TestPricesReadSettingsStoredPerChannel(t *testing.T) {
	t.Parallel()
	var st Settings
	require.NoError(t, json.Unmarshal([]byte(`{"timeZone":"Asia/Shanghai","prices":{"SMS":0.04,"EMAIL":0.002}}`), &st))
	require.Equal(t, Prices{{Channel: "EMAIL", Price: 0.002}, {Channel: "SMS", Price: 0.04}}, st.Prices)

	b, err := json.Marshal(Settings{Prices: Prices{{Channel: "SMS", Provider: "aliyun", Price: 0.03}}})
	require.NoError(t, err)
	var back Settings
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, Prices{{Channel: "SMS", Provider: "aliyun", Price: 0.03}}, back.Prices)

	require.Error(t, json.Unmarshal([]byte(`{"prices":"cheap"}`), &st))
}
