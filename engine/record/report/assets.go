package report

import (
	_ "embed"
	"html/template"
	"strings"
)

// The charting libraries, vendored as npm publishes them (see
// assets/README.md): embedded whole, so a report needs no network.
var (
	//go:embed assets/chart.umd.min.js
	chartJSFile string
	//go:embed assets/chartjs-plugin-annotation.min.js
	annotationJSFile string
	//go:embed assets/chart.js.LICENSE.md
	chartJSLicense string
	//go:embed assets/chartjs-plugin-annotation.LICENSE.md
	annotationLicense string
)

// The page's own parts, written for it.
var (
	//go:embed page.html.tmpl
	pageHTML string
	//go:embed report.js
	reportJS string
	//go:embed report.css
	reportCSS string
)

var (
	chartJS      = withoutSourceMap(chartJSFile)
	annotationJS = withoutSourceMap(annotationJSFile)
)

// license is a vendored library's license, which the MIT terms ask to
// travel with every copy: the page carries them at its end.
type license struct{ Name, Text string }

var licenses = []license{
	{"Chart.js 4.6.1", chartJSLicense},
	{"chartjs-plugin-annotation 3.1.0", annotationLicense},
}

// withoutSourceMap drops the "//# sourceMappingURL=" line a minified
// build ends with: the map is not shipped, and a browser's developer tools
// would go looking for it beside the report.
func withoutSourceMap(js string) string {
	if i := strings.LastIndex(js, "\n//# sourceMappingURL="); i >= 0 {
		return js[:i+1]
	}
	return js
}

var pageTemplate = template.Must(template.New("page").Parse(pageHTML))
