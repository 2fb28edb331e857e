// Package web embeds the browser SDK's bundle and demo page, which the
// server serves at /demo/ (internal/server/demo.go). The TypeScript sources
// are in src/; dist/minirtc.js is built from them by `npm run build` and
// committed, so that building the server needs no Node.js
// (scripts/test-web-sdk.sh checks that it is up to date).
package web

import (
	"embed"
	"io/fs"
)

//go:embed demo/index.html demo/demo.js dist/minirtc.js
var files embed.FS

// Demo returns the demo page and the SDK bundle as one tree: index.html,
// demo.js and minirtc.js at its root, as the page expects.
func Demo() fs.FS { return demoFS{} }

type demoFS struct{}

func (demoFS) Open(name string) (fs.File, error) {
	switch name {
	case "minirtc.js":
		return files.Open("dist/minirtc.js")
	case ".":
		return files.Open("demo")
	}
	return files.Open("demo/" + name)
}
