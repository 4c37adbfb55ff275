// Draws a Spillway report's charts from the JSON in #data. Chart.js and
// chartjs-plugin-annotation are embedded before this script, which needs
// nothing else: the page must work from a file, with no network.
//
// The Go side has aggregated everything; this script only turns series into
// Chart.js datasets and paints the request lanes. When it is done it sets
// body.dataset.charts (how many charts it drew) and body.dataset.ready.
(function () {
  'use strict';

  var data = JSON.parse(document.getElementById('data').textContent);
  var two = data.runs.length > 1;

  var OUTCOME_COLOR = { succeeded: '#2e7d32', rate_limited: '#ef6c00', failed: '#c62828', cancelled: '#616161' };
  var OUTCOME_NAME = { succeeded: 'succeeded', rate_limited: 'rate-limited', failed: 'failed', cancelled: 'cancelled' };
  var PERCENTILE_COLOR = { p50: '#1565c0', p95: '#8e24aa', p99: '#c62828' };
  var PALETTE = ['#1565c0', '#2e7d32', '#ef6c00', '#8e24aa', '#00838f', '#c62828', '#6d4c41', '#ad1457', '#558b2f', '#283593'];
  var RUN_COLOR = ['#1565c0', '#ef6c00'];
  // Fault bands: A red, B blue, so that overlaid runs' faults stay apart.
  var BAND = [
    { fill: 'rgba(211, 47, 47, 0.10)', line: 'rgba(211, 47, 47, 0.6)' },
    { fill: 'rgba(25, 118, 210, 0.10)', line: 'rgba(25, 118, 210, 0.6)' }
  ];
  // Lanes, by outcome code (succeeded, rate-limited, failed, cancelled, in
  // flight), and the lighter shade for the part before a fallback.
  var LANE = ['#43a047', '#fb8c00', '#e53935', '#9e9e9e', '#78909c'];
  var LANE_LIGHT = ['#a5d6a7', '#ffcc80', '#ef9a9a', '#e0e0e0', '#cfd8dc'];
  var LANE_NAME = ['succeeded', 'rate-limited', 'failed', 'cancelled', 'in flight'];
  var FALLBACK = 8;
  var NICE = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

  // niceStep is the smallest round step in seconds that cuts span into at
  // most n intervals.
  function niceStep(span, n) {
    for (var i = 0; i < NICE.length; i++) {
      if (span / NICE[i] <= n) { return NICE[i]; }
    }
    return Math.ceil(span / n / 86400) * 86400;
  }

  function pad(n) { return n < 10 ? '0' + n : String(n); }

  // clock writes seconds since the run started: 45s, 3m05s, 1h02m.
  function clock(s) {
    s = Math.round(s);
    if (s < 60) { return s + 's'; }
    var m = Math.floor(s / 60), r = s % 60;
    if (m < 60) { return m + 'm' + pad(r) + 's'; }
    return Math.floor(m / 60) + 'h' + pad(m % 60) + 'm' + (r ? pad(r) + 's' : '');
  }

  // points places a series' bins at their middles; null is a gap.
  function points(values, bin) {
    var out = new Array(values.length);
    for (var i = 0; i < values.length; i++) {
      out[i] = { x: Math.min(data.end, (i + 0.5) * bin), y: values[i] === null ? NaN : values[i] };
    }
    return out;
  }

  function label(run, name) { return two ? run.label + ' · ' + name : name; }
  function dash(r) { return r === 0 ? [] : [6, 4]; }

  function line(run, r, name, values, bin, color) {
    return {
      label: label(run, name), data: points(values, bin), borderColor: color, backgroundColor: color,
      borderDash: dash(r), borderWidth: r === 0 ? 1.8 : 1.6, pointRadius: 0, pointHitRadius: 4, tension: 0
    };
  }

  function faultBands() {
    var ann = {};
    data.runs.forEach(function (run, r) {
      run.faults.forEach(function (f, i) {
        ann['fault-' + r + '-' + i] = {
          type: 'box', xMin: f.start, xMax: f.end, drawTime: 'beforeDatasetsDraw',
          backgroundColor: BAND[r].fill, borderColor: BAND[r].line, borderWidth: 1, borderDash: dash(r),
          label: {
            display: true, content: two ? run.label + ': ' + f.name : f.name,
            position: { x: 'start', y: r === 0 ? 'start' : 'end' }, color: '#37474f',
            font: { size: 11 }, padding: 3
          }
        };
      });
    });
    return ann;
  }

  function limitLines(bucket) {
    var ann = {};
    data.runs.forEach(function (run, r) {
      run.limits.forEach(function (m, i) {
        if (m.bucket !== bucket) { return; }
        ann['limit-' + r + '-' + i] = {
          type: 'line', xMin: m.at, xMax: m.at, borderColor: r === 0 ? '#37474f' : RUN_COLOR[1],
          borderWidth: 1.5, borderDash: dash(r),
          label: {
            display: true, content: two ? run.label + ' ' + m.text : m.text, position: r === 0 ? 'end' : 'start',
            backgroundColor: 'rgba(55, 71, 79, 0.85)', font: { size: 10 }, padding: 3
          }
        };
      });
    });
    return ann;
  }

  function timeAxis() {
    return {
      type: 'linear', min: 0, max: data.end,
      title: { display: true, text: 'simulated time since the run started' },
      // Ticks at round times, set here: given both ends, Chart.js spreads
      // its own evenly between them when the span is nearly a whole number
      // of steps, at times such as 10m08s.
      afterBuildTicks: function (axis) {
        var step = niceStep(data.end, 10), ticks = [];
        for (var t = 0; t <= data.end + 1e-9; t += step) { ticks.push({ value: t }); }
        axis.ticks = ticks;
      },
      ticks: { maxRotation: 0, callback: function (v) { return clock(v); } }
    };
  }

  function options(yTitle, annotations, y) {
    var legend = {
      position: 'bottom',
      labels: {
        usePointStyle: true, pointStyle: 'line', pointStyleWidth: 28, boxHeight: 8,
        // In the order the datasets were given, whatever their drawing order.
        sort: function (a, b) { return a.datasetIndex - b.datasetIndex; }
      }
    };
    if (two) {
      legend.title = {
        display: true, padding: 4,
        text: 'A = ' + data.runs[0].file + ' (solid)   B = ' + data.runs[1].file + ' (dashed)'
      };
    }
    var yAxis = { beginAtZero: true, title: { display: true, text: yTitle } };
    for (var k in y || {}) { yAxis[k] = y[k]; }
    return {
      responsive: true, maintainAspectRatio: false, animation: false, parsing: false, normalized: true,
      interaction: { mode: 'index', intersect: false },
      scales: { x: timeAxis(), y: yAxis },
      plugins: {
        legend: legend,
        tooltip: { callbacks: { title: function (items) { return items.length ? clock(items[0].parsed.x) : ''; } } },
        annotation: { annotations: annotations }
      }
    };
  }

  function merge(a, b) {
    var out = {}, k;
    for (k in a) { out[k] = a[k]; }
    for (k in b) { out[k] = b[k]; }
    return out;
  }

  function chart(spec, datasets, yTitle, annotations, y) {
    var canvas = document.getElementById(spec.id);
    return new Chart(canvas, { type: 'line', data: { datasets: datasets }, options: options(yTitle, annotations, y) });
  }

  var builders = {
    throughput: function (spec) {
      var sets = [];
      data.runs.forEach(function (run, r) {
        (run.throughput || []).forEach(function (s) {
          sets.push(line(run, r, OUTCOME_NAME[s.name] || s.name, s.values, data.rateBin, OUTCOME_COLOR[s.name] || '#000'));
        });
      });
      chart(spec, sets, 'requests per minute', faultBands());
    },
    latency: function (spec) {
      var sets = [];
      data.runs.forEach(function (run, r) {
        (run.latency || []).forEach(function (s) {
          var set = line(run, r, s.name, s.values, data.rateBin, PERCENTILE_COLOR[s.name] || '#000');
          if (s.name === 'p99') {
            // On top, thin, and dotted at each bin when bins are few: where
            // a bin's few requests make p95 and p99 the same request, the
            // dots show p99 on the p95 line instead of hiding it.
            set.order = -1;
            set.borderWidth = 1.3;
            set.pointRadius = s.values.length <= 120 ? 2.5 : 0;
          }
          sets.push(set);
        });
      });
      chart(spec, sets, 'latency (ms)', faultBands());
    },
    fill: function (spec) {
      var sets = [];
      data.runs.forEach(function (run, r) {
        var values = run.fill && run.fill[spec.bucket];
        if (values) { sets.push(line(run, r, spec.bucket, values, data.sampleBin, RUN_COLOR[r])); }
      });
      chart(spec, sets, 'fill (% of capacity)', merge(faultBands(), limitLines(spec.bucket)), { suggestedMax: 100 });
    },
    regions: function (spec) {
      var names = [];
      data.runs.forEach(function (run) {
        (run.regions || []).forEach(function (s) { if (names.indexOf(s.name) < 0) { names.push(s.name); } });
      });
      names.sort();
      var sets = [];
      data.runs.forEach(function (run, r) {
        (run.regions || []).forEach(function (s) {
          sets.push(line(run, r, s.name, s.values, data.sampleBin, PALETTE[names.indexOf(s.name) % PALETTE.length]));
        });
      });
      chart(spec, sets, 'invocations so far', faultBands());
    },
    lanes: function (spec) { lanes(document.getElementById(spec.id), data.runs[spec.run], spec.run); }
  };

  // lanes paints one row per request on a canvas that stays put inside a
  // scrolling box; a spacer gives the box the height of every row. Only the
  // rows in view are painted, on each scroll, so 36,000 requests scroll as
  // smoothly as 36.
  function lanes(fig, run, r) {
    var L = run.lanes, n = L.start.length;
    var scroller = fig.querySelector('.lanes-scroll');
    var canvas = fig.querySelector('canvas');
    var spacer = fig.querySelector('.lanes-spacer');
    var status = fig.querySelector('.lanes-status');
    var fit = fig.querySelector('.lanes-fit input');
    var rowH = n <= 300 ? 8 : 4, head = 24, gutter = 58, padRight = 12;
    var content = head + n * rowH, viewH = Math.min(440, content);
    var endMs = data.end * 1000, ctx = canvas.getContext('2d'), draws = 0;
    scroller.style.height = viewH + 'px';
    canvas.style.height = viewH + 'px';
    spacer.style.height = (content - viewH) + 'px';

    // On the whole run's axis the rows in view of a long, busy run are a
    // sliver at one instant; fitted, the axis spans just those rows.
    fit.checked = n > 2000;
    fit.addEventListener('change', function () { draw(); });

    function plotWidth(w) { return Math.max(10, w - gutter - padRight); }

    // span is the time the axis shows, in ms: the whole run, or the rows
    // from first to last with a little room either side.
    function span(first, last) {
      if (!fit.checked) { return [0, endMs]; }
      var lo = Infinity, hi = -Infinity;
      for (var i = first; i <= last; i++) {
        lo = Math.min(lo, L.start[i]);
        hi = Math.max(hi, L.dur[i] < 0 ? endMs : L.start[i] + L.dur[i]);
      }
      if (!(hi > lo)) { return [0, endMs]; }
      var pad = (hi - lo) * 0.02 + 1;
      return [Math.max(0, lo - pad), Math.min(endMs, hi + pad)];
    }

    function draw() {
      var w = scroller.clientWidth, dpr = window.devicePixelRatio || 1;
      if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(viewH * dpr)) {
        canvas.width = Math.round(w * dpr);
        canvas.height = Math.round(viewH * dpr);
        canvas.style.width = w + 'px';
      }
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, w, viewH);
      var pw = plotWidth(w);
      var top = scroller.scrollTop, first = Math.min(n - 1, Math.floor(top / rowH)), h = Math.max(1, rowH - 1);
      var last = Math.min(n - 1, Math.floor((top + viewH - head) / rowH));
      var range = span(first, last), lo = range[0], width = range[1] - range[0];
      var x = function (ms) { return gutter + (ms - lo) / width * pw; };
      var step = niceStep(width / 1000, Math.max(2, Math.floor(pw / 90)));
      var firstTick = Math.ceil(lo / 1000 / step) * step, lastTick = range[1] / 1000;

      ctx.save();
      ctx.beginPath();
      ctx.rect(gutter, head, pw + padRight, viewH - head);
      ctx.clip();
      run.faults.forEach(function (f) {
        ctx.fillStyle = BAND[r].fill;
        ctx.fillRect(x(f.start * 1000), head, Math.max(1, x(f.end * 1000) - x(f.start * 1000)), viewH - head);
      });
      ctx.fillStyle = '#eceff1';
      for (var t = firstTick; t <= lastTick; t += step) { ctx.fillRect(Math.round(x(t * 1000)), head, 1, viewH - head); }

      for (var i = first; i < n; i++) {
        var y = head + i * rowH - top;
        if (y >= viewH) { break; }
        var code = L.code[i], o = code & 7, s = L.start[i];
        var d = L.dur[i] < 0 ? endMs - s : L.dur[i];
        var x0 = x(s), x1 = Math.max(x0 + 1.5, x(s + d));
        if (code & FALLBACK) {
          var sw = Math.min(x1, x(s + L.switch[i]));
          ctx.fillStyle = LANE_LIGHT[o];
          ctx.fillRect(x0, y, Math.max(0, sw - x0), h);
          ctx.fillStyle = LANE[o];
          ctx.fillRect(sw, y, Math.max(1.5, x1 - sw), h);
          ctx.fillStyle = '#6a1b9a';
          ctx.fillRect(sw - 1, y, 2, h);
        } else {
          ctx.fillStyle = LANE[o];
          ctx.fillRect(x0, y, x1 - x0, h);
        }
      }
      ctx.restore();

      // The time axis, above the rows that scroll under it.
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, w, head);
      ctx.fillStyle = '#546e7a';
      ctx.font = '11px system-ui, sans-serif';
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      for (var tt = firstTick; tt <= lastTick; tt += step) {
        var tx = x(tt * 1000);
        ctx.fillRect(Math.round(tx), head - 5, 1, 5);
        ctx.fillText(clock(tt), Math.min(Math.max(tx, gutter + 12), w - 18), head / 2 - 2);
      }
      ctx.fillRect(gutter, head - 1, pw, 1);

      // Request numbers in the gutter, one label every 28 pixels or so.
      ctx.textAlign = 'right';
      var every = Math.max(1, Math.ceil(28 / rowH));
      for (var j = Math.ceil(first / every) * every; j < n; j += every) {
        var ly = head + j * rowH - top + rowH / 2;
        if (ly > viewH) { break; }
        if (ly < head + 6) { continue; }
        ctx.fillText('#' + (j + 1), gutter - 6, ly);
      }
      canvas.dataset.firstRow = String(first);
      canvas.dataset.draws = String(++draws);
    }

    function describe(i) {
      var code = L.code[i], s = L.start[i] / 1000;
      var text = '#' + (i + 1) + ' · ' + L.tenants[L.tenant[i]] + ' · ' + LANE_NAME[code & 7] + ' · started ' + clock(s);
      if (L.dur[i] >= 0) { text += ', took ' + (L.dur[i] / 1000).toFixed(2) + 's'; }
      if (L.deployments[L.deployment[i]]) { text += ' · ' + L.deployments[L.deployment[i]]; }
      if (L.regions[L.region[i]]) { text += ' · ' + L.regions[L.region[i]]; }
      if (code & FALLBACK) { text += ' · fell back after ' + (L.switch[i] / 1000).toFixed(2) + 's'; }
      return text;
    }

    scroller.addEventListener('scroll', draw, { passive: true });
    window.addEventListener('resize', draw);
    canvas.addEventListener('mousemove', function (e) {
      var y = e.clientY - canvas.getBoundingClientRect().top;
      var i = Math.floor((y - head + scroller.scrollTop) / rowH);
      status.textContent = y >= head && i >= 0 && i < n ? describe(i) : '\u00a0';
    });
    canvas.addEventListener('mouseleave', function () { status.textContent = '\u00a0'; });
    draw();
  }

  var drawn = 0;
  try {
    (data.charts || []).forEach(function (spec) {
      try {
        builders[spec.kind](spec);
        drawn++;
      } catch (err) {
        // One chart's trouble leaves the others, and the tables, readable.
        console.error('spillway report: ' + spec.id + ' could not be drawn:', err);
        var el = document.getElementById(spec.id);
        var note = document.createElement('p');
        note.className = 'note';
        note.textContent = 'This chart could not be drawn: ' + err;
        if (el && el.parentNode) { el.parentNode.appendChild(note); }
      }
    });
  } finally {
    // Set even when something threw, so that a test waiting for the page
    // sees the error at once instead of waiting out its timeout.
    document.body.dataset.charts = String(drawn);
    document.body.dataset.ready = '1';
  }
})();
