// Package report renders one or two recorded runs (spillway/run/v1 exports,
// as record.Load reads them) as a single self-contained HTML page: the
// run's configuration, its summary tables, and charts over simulated time,
// with Chart.js and chartjs-plugin-annotation embedded so that the page
// opens anywhere, from a USB stick, with no network.
//
// The Go side does the heavy work. It bins requests and samples into a few
// hundred points per series and packs the per-request lanes into parallel
// arrays of numbers, so a 36,000-request run stays near a megabyte and the
// page's hand-written script only draws. With two runs every time chart
// overlays them on one axis, A solid and B dashed, and every table shows
// them side by side.
package report
