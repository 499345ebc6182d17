// Vigil dashboard: draws the charts a page describes (uPlot), zooms the page's time range by dragging on a
// chart, refreshes live pages (pausable), and submits filter forms on change. Pages work without it: the
// numbers, tables and links are in the HTML; this only draws and refreshes.
(function () {
  "use strict";
  var charts = {};
  var LIVE_EVERY = 30000;
  window.vigil = { charts: charts, refreshed: 0 };

  function utc(ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); }

  function fmt(v, unit) {
    if (v == null || !isFinite(v)) return "—";
    var a = Math.abs(v), s;
    if (unit === "%") return fmt(v * 100) + "%";  // a ratio
    if (unit === "percent") return fmt(v) + "%";  // already a percentage
    if (a >= 1e9) s = (v / 1e9).toPrecision(3) + "G";
    else if (a >= 1e6) s = (v / 1e6).toPrecision(3) + "M";
    else if (a >= 1e3) s = (v / 1e3).toPrecision(3) + "k";
    else if (v === 0) s = "0";
    else s = String(+v.toPrecision(3));
    return unit && unit !== "%" ? s + " " + unit : s;
  }

  // deploys as dashed vertical lines, alert episodes as shaded bands, thresholds as horizontal lines
  function decorate(u, spec) {
    var ctx = u.ctx, top = u.bbox.top, h = u.bbox.height, left = u.bbox.left, w = u.bbox.width;
    ctx.save();
    (spec.bands || []).forEach(function (b) {
      var x0 = Math.max(left, u.valToPos(b.from, "x", true));
      var x1 = Math.min(left + w, u.valToPos(b.to == null ? u.scales.x.max : b.to, "x", true));
      if (x1 <= x0) return;
      ctx.fillStyle = b.severity === "critical" ? "rgba(207,34,46,0.13)" : "rgba(212,167,44,0.18)";
      ctx.fillRect(x0, top, x1 - x0, h);
    });
    (spec.thresholds || []).forEach(function (t) {
      var y = u.valToPos(t.value, "y", true);
      if (y < top || y > top + h) return;
      ctx.strokeStyle = t.severity === "critical" ? "#cf222e" : "#bf8700";
      ctx.setLineDash([4, 4]); ctx.lineWidth = 1;
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + w, y); ctx.stroke();
    });
    (spec.marks || []).forEach(function (m) {
      var x = u.valToPos(m.t, "x", true);
      if (x < left || x > left + w) return;
      ctx.strokeStyle = "#0b3d91"; ctx.setLineDash([3, 3]); ctx.lineWidth = 1.5;
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + h); ctx.stroke();
      ctx.setLineDash([]); ctx.fillStyle = "#0b3d91";
      ctx.font = "11px system-ui, sans-serif";
      ctx.fillText(m.label, Math.min(x + 3, left + w - 60), top + 11);
    });
    ctx.restore();
  }

  function zoomTo(from, to) {
    var url = new URL(window.location.href);
    url.searchParams.delete("range");
    url.searchParams.set("from", new Date(from * 1e3).toISOString().slice(0, 19) + "Z");
    url.searchParams.set("to", new Date(to * 1e3).toISOString().slice(0, 19) + "Z");
    window.location.assign(url.toString());
  }

  function draw(fig) {
    var source = fig.querySelector("script[type='application/json']"), box = fig.querySelector(".plot");
    if (!source || !box) return;  // an empty chart: its text says so
    var spec = JSON.parse(source.textContent);
    if (!spec.x || !spec.x.length) return;
    var spark = spec.kind === "spark";
    var colors = ["#0b5cad", "#c2410c", "#6d28d9", "#15803d", "#be185d", "#0e7490"];
    var series = [{ value: function (u, v) { return v == null ? "—" : uPlot.fmtDate("{YYYY}-{MM}-{DD} {HH}:{mm}")(utc(v)); } }];
    spec.series.forEach(function (s, i) {
      series.push({ label: s.label, stroke: s.color || colors[i % colors.length], width: spark ? 1.25 : 1.5,
        fill: spark ? "rgba(11,92,173,0.08)" : undefined, spanGaps: false, points: { show: !spark && spec.x.length < 3 },
        value: function (u, v) { return fmt(v, spec.unit); } });
    });
    var width = spark ? (box.clientWidth || 120) : Math.max(260, box.clientWidth);
    var opts = {
      width: width, height: spark ? 30 : 190, tzDate: utc, series: series,
      scales: { x: { time: true }, y: spec.ymin != null ? { range: function (u, lo, hi) {
        var top = Math.max(hi || 0, spec.ymax || 0);
        if (!(top > spec.ymin)) top = spec.ymin + (spec.unit === "%" ? 0.01 : 1);  // all zero: still an axis
        return [spec.ymin, top * 1.05];
      } } : {} },
      legend: { show: !spark },
      cursor: spark ? { show: false } : { drag: { x: true, y: false, setScale: false } },
      select: { show: !spark },
      axes: spark ? [{ show: false }, { show: false }] : [
        { stroke: "#4d5661", grid: { stroke: "#eaeef2" }, ticks: { stroke: "#d0d7de" } },
        { stroke: "#4d5661", grid: { stroke: "#eaeef2" }, ticks: { stroke: "#d0d7de" }, size: 56,
          values: function (u, vals) { return vals.map(function (v) { return fmt(v, spec.unit === "%" || spec.unit === "percent" ? spec.unit : ""); }); } }
      ],
      hooks: {
        draw: [function (u) { decorate(u, spec); }],
        setSelect: [function (u) {
          if (u.select.width < 4) return;
          var a = u.posToVal(u.select.left, "x"), b = u.posToVal(u.select.left + u.select.width, "x");
          if (b - a >= 60) zoomTo(a, b);
        }]
      }
    };
    var data = [spec.x].concat(spec.series.map(function (s) { return s.values; }));
    box.textContent = "";
    charts[fig.id] = new uPlot(opts, data, box);
    charts[fig.id].spec = spec;
  }

  function drawAll(root) {
    if (typeof uPlot === "undefined") return;
    Object.keys(charts).forEach(function (id) { charts[id].destroy(); delete charts[id]; });
    root.querySelectorAll("[data-chart]").forEach(draw);
  }

  function autosubmit(root) {
    root.querySelectorAll("form[data-autosubmit] select").forEach(function (sel) {
      sel.addEventListener("change", function () { sel.form.requestSubmit ? sel.form.requestSubmit() : sel.form.submit(); });
    });
  }

  // live refresh: fetch this page again and swap its content, unless paused, hidden, or the user is typing
  function live() {
    var button = document.getElementById("live-toggle");
    if (!button || document.body.dataset.live !== "on") return;
    var paused = sessionStorage.getItem("vigil-live") === "off";
    function show() {
      button.setAttribute("aria-pressed", paused ? "false" : "true");
      button.textContent = paused ? "Live: paused" : "Live: on";
      button.title = paused ? "Resume refreshing every 30 s" : "Pause refreshing (every 30 s)";
    }
    button.hidden = false; show();
    button.addEventListener("click", function () {
      paused = !paused; sessionStorage.setItem("vigil-live", paused ? "off" : "on"); show();
      if (!paused) refresh();
    });
    function busy() {
      var el = document.activeElement;
      return el && el.closest("main") && /^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName);
    }
    function refresh() {
      if (paused || document.hidden || busy()) return;
      fetch(window.location.href, { credentials: "same-origin", headers: { "X-Vigil-Refresh": "1" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html || paused) return;
          var doc = new DOMParser().parseFromString(html, "text/html");
          var main = doc.querySelector("main"), label = doc.getElementById("range-label");
          if (!main) return;
          document.querySelector("main").innerHTML = main.innerHTML;
          if (label) document.getElementById("range-label").textContent = label.textContent;
          init(document.querySelector("main"));
          window.vigil.refreshed += 1;
        })
        .catch(function () { /* the next round tries again */ });
    }
    window.vigil.refresh = refresh;
    setInterval(refresh, LIVE_EVERY);
  }

  function init(root) { drawAll(root); autosubmit(root); }

  var resizeTimer;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { drawAll(document); }, 200);
  });
  document.addEventListener("DOMContentLoaded", function () { init(document); live(); });
})();
