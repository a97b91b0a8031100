package content

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
)

// TestDocExamples saves and renders every example of docs/templates.md, so the page cannot
// show a template that Herald refuses.
func TestDocExamples(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/templates.md")
	require.NoError(t, err)
	_, examples, ok := strings.Cut(string(doc), "\n## Examples\n")
	require.True(t, ok, "no Examples section")

	covered := map[channels.Channel]bool{}
	blocks := strings.Split(examples, "```json\n")[1:]
	require.NotEmpty(t, blocks)
	for _, block := range blocks {
		src, _, _ := strings.Cut(block, "```")
		var in struct {
			Name      string
			Class     Class
			Variables []Variable
			Variants  []Variant
		}
		require.NoError(t, json.Unmarshal([]byte(src), &in), src)
		t.Run(in.Name, func(t *testing.T) {
			input := Input{AppID: 1, Name: in.Name, Class: in.Class, Variables: in.Variables, Variants: in.Variants}
			require.NoError(t, validate(&input))
			vars := map[string]any{}
			for _, v := range in.Variables {
				vars[v.Name] = map[string]any{TypeString: "Ada", TypeNumber: 128.5, TypeBool: true, TypeTime: "2025-03-01T08:00:00+08:00"}[v.Type]
			}
			tpl := &Template{Name: in.Name, Variables: in.Variables, Variants: in.Variants}
			for _, v := range in.Variants {
				_, err := tpl.Render(v.Channel, vars)
				require.NoError(t, err)
				covered[v.Channel] = true
			}
		})
	}
	for _, ch := range channels.All {
		require.True(t, covered[ch], "docs/templates.md has no example for %s", ch)
	}
}
