//go:build tools

// Package tools pins the stern command this module builds.
package tools

import _ "github.com/stern/stern"
