// Package ui holds Herald's web console; `make ui` builds it into ui/dist.
package ui

import "embed"

// Dist is the built console (ui/dist); in a clone that has not built it, only .gitkeep.
//
//go:embed all:dist
var Dist embed.FS
