package graph

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// zoneName is the IANA name of loc, which a browser can compute in: the system zone
// ("Local") is named by TZ or by the target of /etc/localtime, and UTC when neither names one.
func zoneName(loc *time.Location) string {
	if loc == nil {
		return "UTC"
	}
	if name := loc.String(); name != "Local" {
		return name
	}
	if tz := strings.TrimPrefix(os.Getenv("TZ"), ":"); tz != "" {
		if _, err := time.LoadLocation(tz); err == nil {
			return tz
		}
	}
	if target, err := filepath.EvalSymlinks("/etc/localtime"); err == nil {
		if _, name, ok := strings.Cut(target, "zoneinfo/"); ok {
			if _, err := time.LoadLocation(name); err == nil {
				return name
			}
		}
	}
	return "UTC"
}
