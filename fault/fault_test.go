package fault_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/fault"
)

func TestConstructors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       error
		wantCode  fault.Code
		wantField string
		wantMsg   string
		wantText  string
	}{
		{"bad input", fault.BadInput("input.users[3].id", "user %q appears twice", "u1"), fault.CodeBadInput, "input.users[3].id", `user "u1" appears twice`, `input.users[3].id: user "u1" appears twice`},
		{"not found", fault.NotFound("templateId", "template %d does not exist", 7), fault.CodeNotFound, "templateId", "template 7 does not exist", "templateId: template 7 does not exist"},
		{"forbidden", fault.Forbidden("appId", "no access to app %d", 2), fault.CodeForbidden, "appId", "no access to app 2", "appId: no access to app 2"},
		{"forbidden without field", fault.Forbidden("", "admins only"), fault.CodeForbidden, "", "admins only", "admins only"},
		{"unauthenticated", fault.Unauthenticated("sign in"), fault.CodeUnauthenticated, "", "sign in", "sign in"},
		{"conflict", fault.Conflict("name", "%q exists", "a"), fault.CodeConflict, "name", `"a" exists`, `name: "a" exists`},
		{"rate limited", fault.RateLimited("slow down after %d", 100), fault.CodeRateLimited, "", "slow down after 100", "slow down after 100"},
		{"unavailable", fault.Unavailable("redis is down"), fault.CodeUnavailable, "", "redis is down", "redis is down"},
		{"not implemented", fault.NotImplemented("Audience.sample"), fault.CodeNotImplemented, "", "Audience.sample is not available in this release of Herald", "Audience.sample is not available in this release of Herald"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fe, ok := fault.As(tt.err)
			require.True(t, ok)
			require.Equal(t, tt.wantCode, fe.Code)
			require.Equal(t, tt.wantField, fe.Field)
			require.Equal(t, tt.wantMsg, fe.Message)
			require.Equal(t, tt.wantText, tt.err.Error())
			require.Equal(t, tt.wantCode, fault.CodeOf(tt.err))
		})
	}
}

// TestCodesMatchContract pins the codes to the extensions.code catalogue of API.md.
func TestCodesMatchContract(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"BAD_INPUT", "NOT_FOUND", "UNAUTHENTICATED", "FORBIDDEN", "CONFLICT", "RATE_LIMITED", "UNAVAILABLE", "INTERNAL"},
		[]string{string(fault.CodeBadInput), string(fault.CodeNotFound), string(fault.CodeUnauthenticated), string(fault.CodeForbidden),
			string(fault.CodeConflict), string(fault.CodeRateLimited), string(fault.CodeUnavailable), string(fault.CodeInternal)})
}

func TestAsAndCodeOfThroughWrapping(t *testing.T) {
	t.Parallel()
	inner := fault.NotFound("ruleId", "rule 9 does not exist")
	tests := []struct {
		name     string
		err      error
		wantOK   bool
		wantCode fault.Code
	}{
		{"nil", nil, false, fault.CodeInternal},
		{"plain error", errors.New("dial tcp 10.0.0.1:3306: connection refused"), false, fault.CodeInternal},
		{"io error wrapped", fmt.Errorf("error reading: %w", io.ErrUnexpectedEOF), false, fault.CodeInternal},
		{"direct", inner, true, fault.CodeNotFound},
		{"wrapped once", fmt.Errorf("error loading rule: %w", inner), true, fault.CodeNotFound},
		{"wrapped twice", fmt.Errorf("send: %w", fmt.Errorf("error loading rule: %w", inner)), true, fault.CodeNotFound},
		{"joined with a plain error", errors.Join(errors.New("other"), inner), true, fault.CodeNotFound},
		{"formatted with %v loses it", fmt.Errorf("error loading rule: %v", inner), false, fault.CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fe, ok := fault.As(tt.err)
			require.Equal(t, tt.wantOK, ok)
			if tt.wantOK {
				require.Same(t, inner, error(fe), "As returns the catalogue error itself")
			} else {
				require.Nil(t, fe)
			}
			require.Equal(t, tt.wantCode, fault.CodeOf(tt.err))
		})
	}
}
