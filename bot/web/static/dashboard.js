/* rebalance-bot's dashboard script (Apache-2.0): draws the charts with uPlot, counts down to each pending
 * decision's expiry on the market clock, and redraws the page's live parts when the server's event stream
 * says the state changed (bot/web/events.py). The server renders every piece of HTML and works out every
 * number (bot/web/charts.py); this file only places and draws them, so the page without it still works. */
(function () {
  "use strict";

  var COLORS = ["#1f5fbf", "#17803d", "#b54708", "#7a3fb8", "#0e7c86", "#c11574", "#5d6778"];
  var charts = {}; // element id -> uPlot instance
  var heights = {};
  var lastHtml = {};
  var clockOffset = 0; // market time minus browser time, in ms
  var data = readData();

  // read by the browser tests: what each chart holds, and how many refreshes arrived
  window.rebalanceCharts = charts;
  window.rebalanceRefreshes = 0;

  function readData() {
    var el = document.getElementById("chart-data");
    return el ? JSON.parse(el.textContent) : {};
  }

  function money(v) {
    return v == null ? "-" : "$" + v.toLocaleString("en-US", { maximumFractionDigits: 0 });
  }
  function pct(v) {
    return v == null ? "-" : v.toFixed(2) + "%";
  }
  function pp(v) {
    return v == null ? "-" : (v > 0 ? "+" : "") + v.toFixed(2) + "pp";
  }
  function ppTick(v) {
    // axis ticks: "+20pp", "+2.5pp" (no trailing zeros)
    return (v > 0 ? "+" : "") + parseFloat(v.toFixed(2)) + "pp";
  }

  // sessions are dates: one tick per day or more, labelled in UTC (the server's x is a date at 00:00 UTC)
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var DAY = 86400;
  var dateAxis = {
    incrs: [DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY, 182 * DAY, 365 * DAY],
    values: function (u, vals) {
      return vals.map(function (v) {
        var d = new Date(v * 1000);
        return MONTHS[d.getUTCMonth()] + " " + d.getUTCDate() + (d.getUTCMonth() === 0 && d.getUTCDate() <= 7 ? " " + d.getUTCFullYear() : "");
      });
    },
  };
  // one session alone would sit at the edge of a years-wide axis: give it a week around it
  function dateScale(x) {
    return x.length === 1 ? { time: true, auto: false, range: [x[0] - 3 * DAY, x[0] + 3 * DAY] } : { time: true };
  }
  var moneyScale = {
    range: function (u, min, max) {
      return min === max ? [min * 0.99, max * 1.01] : uPlot.rangeNum(min, max, 0.1, true);
    },
  };
  function dateValue(u, v) {
    return v == null ? "-" : new Date(v * 1000).toISOString().slice(0, 10);
  }

  function widthOf(el) {
    return Math.max(240, Math.floor(el.getBoundingClientRect().width));
  }
  function note(el, text) {
    var p = document.createElement("p");
    p.className = "muted small";
    p.textContent = text;
    el.appendChild(p);
  }

  function draw(id, opts, rows, height, empty) {
    var el = document.getElementById(id);
    if (charts[id]) {
      charts[id].destroy();
      delete charts[id];
    }
    if (!el) return null;
    el.textContent = "";
    if (!rows[0].length) {
      note(el, empty || "No data yet.");
      return null;
    }
    opts.width = widthOf(el);
    opts.height = height;
    heights[id] = height;
    charts[id] = new uPlot(opts, rows, el);
    charts[id].categories = opts.categories || null; // a bar chart's x labels, for the tests
    return charts[id];
  }

  function hideLegend(u, labels) {
    // series that only carry a band's edges are not worth a legend entry
    u.root.querySelectorAll(".u-legend .u-series").forEach(function (row) {
      var label = row.querySelector(".u-label");
      if (label && labels.indexOf(label.textContent) >= 0) row.style.display = "none";
    });
  }

  function equityChart(id, c) {
    draw(
      id,
      {
        scales: { x: dateScale(c.x), y: moneyScale },
        series: [{ label: "close", value: dateValue }, { label: "equity", stroke: COLORS[0], width: 2, fill: "rgba(31,95,191,0.08)", value: function (u, v) { return money(v); } }],
        axes: [dateAxis, { size: 80, values: function (u, vals) { return vals.map(money); } }],
      },
      [c.x, c.equity],
      220,
      "The first point appears after the first close the bot sees."
    );
  }

  function weightsChart(id, c) {
    var series = [{}];
    var rows = [c.x];
    var bands = [];
    var hidden = [];
    c.assets.forEach(function (a, i) {
      var color = COLORS[i % COLORS.length];
      var base = series.length;
      series.push({ label: a.symbol, stroke: color, width: 2, value: function (u, v) { return pct(v); } });
      series.push({ label: a.symbol + " target", stroke: color, width: 1, dash: [6, 4], points: { show: false }, value: function (u, v) { return pct(v); } });
      series.push({ label: a.symbol + " band top", stroke: "transparent", points: { show: false } });
      series.push({ label: a.symbol + " band bottom", stroke: "transparent", points: { show: false } });
      rows.push(a.weight, a.target, a.upper, a.lower);
      bands.push({ series: [base + 2, base + 3], fill: color + "1f" });
      hidden.push(a.symbol + " band top", a.symbol + " band bottom");
    });
    var u = draw(
      id,
      {
        scales: { x: dateScale(c.x) },
        series: series,
        bands: bands,
        legend: { live: false },
        axes: [dateAxis, { values: function (u, vals) { return vals.map(function (v) { return v + "%"; }); } }],
      },
      rows,
      240,
      "The first point appears after the first close the bot sees."
    );
    if (u) hideLegend(u, hidden);
  }

  function categoryAxis(symbols) {
    return {
      splits: function () { return symbols.map(function (_, i) { return i; }); },
      values: function (u, vals) { return vals.map(function (v) { return symbols[v] || ""; }); },
      grid: { show: false },
    };
  }

  function barsOpts(symbols, yFmt, extent) {
    return {
      categories: symbols,
      scales: {
        x: { time: false, range: [-0.5, symbols.length - 0.5] },
        y: { range: extent },
      },
      axes: [categoryAxis(symbols), { size: 64, values: function (u, vals) { return vals.map(yFmt); } }],
      legend: { live: false },
    };
  }

  function driftChart(id, c) {
    if (!c) {
      draw(id, {}, [[]], 0, "No reading of the broker yet.");
      return;
    }
    var x = c.symbols.map(function (_, i) { return i; });
    var inside = c.drift.map(function (d, i) { return d != null && Math.abs(d) <= c.band[i] ? d : null; });
    var outside = c.drift.map(function (d, i) { return d != null && Math.abs(d) > c.band[i] ? d : null; });
    var top = Math.max.apply(null, c.drift.concat(c.band).map(function (v) { return Math.abs(v || 0); }).concat([1])) * 1.15;
    var bars = uPlot.paths.bars({ size: [0.55, 80] });
    var opts = barsOpts(c.symbols, ppTick, [-top, top]);
    var value = function (u, v) { return pp(v); };
    opts.series = [
      { label: "asset", value: function (u, v) { return c.symbols[v] || ""; } },
      { label: "inside band", stroke: "#1f5fbf", fill: "#1f5fbf", paths: bars, points: { show: false }, value: value },
      { label: "outside band", stroke: "#b42318", fill: "#b42318", paths: bars, points: { show: false }, value: value },
      { label: "band edges", stroke: "#5d6778", paths: function () { return null; }, points: { show: true, size: 9, fill: "#fff" }, value: value },
      { label: "band (low)", stroke: "#5d6778", paths: function () { return null; }, points: { show: true, size: 9, fill: "#fff" }, value: value },
    ];
    var u = draw(id, opts, [x, inside, outside, c.band, c.band.map(function (b) { return b == null ? null : -b; })], 220);
    if (u) hideLegend(u, ["band (low)"]);
  }

  function planChart(id, c) {
    var x = c.symbols.map(function (_, i) { return i; });
    var all = c.before.concat(c.after, c.target).map(function (v) { return v || 0; });
    var opts = barsOpts(c.symbols, function (v) { return v + "%"; }, [0, Math.max.apply(null, all.concat([1])) * 1.15]);
    var value = function (u, v) { return pct(v); };
    opts.series = [
      { label: "asset", value: function (u, v) { return c.symbols[v] || ""; } },
      { label: "before", stroke: "#9aa5b5", fill: "#9aa5b5", paths: uPlot.paths.bars({ size: [0.35, 60], align: -1 }), points: { show: false }, value: value },
      { label: "after", stroke: "#1f5fbf", fill: "#1f5fbf", paths: uPlot.paths.bars({ size: [0.35, 60], align: 1 }), points: { show: false }, value: value },
      { label: "target", stroke: "#b54708", paths: function () { return null; }, points: { show: true, size: 11, width: 3, fill: "#fff" }, value: value },
    ];
    draw(id, opts, [x, c.before, c.after, c.target], 220);
  }

  function drawAll() {
    var accounts = data.accounts || {};
    Object.keys(accounts).forEach(function (name) {
      var c = accounts[name];
      equityChart("equity-" + name, c.equity);
      weightsChart("weights-" + name, c.weights);
      driftChart("drift-" + name, c.drift);
    });
    var plans = data.plans || {};
    Object.keys(plans).forEach(function (id) { planChart("plan-" + id, plans[id]); });
  }

  var resizing = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () {
      Object.keys(charts).forEach(function (id) {
        var el = document.getElementById(id);
        if (el) charts[id].setSize({ width: widthOf(el), height: heights[id] });
      });
    }, 100);
  });

  // -- countdowns on pending decisions, on the market clock the server reports ------------------------------
  function setClock(iso) {
    if (iso) clockOffset = Date.parse(iso) - Date.now();
  }
  function left(seconds) {
    var h = Math.floor(seconds / 3600);
    var m = Math.floor((seconds % 3600) / 60);
    var s = seconds % 60;
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    return h ? h + " h " + two(m) + " min" : m + " min " + two(s) + " s";
  }
  function tick() {
    var now = Date.now() + clockOffset;
    document.querySelectorAll(".countdown[data-expires]").forEach(function (el) {
      var seconds = Math.floor((Date.parse(el.dataset.expires) - now) / 1000);
      el.textContent = seconds <= 0 ? "expired: the bot drops it at its next check" : left(seconds) + " left";
    });
  }

  // -- live refresh ----------------------------------------------------------------------------------------
  function state(text) {
    var el = document.getElementById("live-state");
    if (el) el.textContent = text;
  }
  function typedValues(el) {
    var kept = {};
    el.querySelectorAll("input[type=text]").forEach(function (input) {
      if (input.value && input.form) kept[input.form.getAttribute("action") + " " + input.name] = input.value;
    });
    return kept;
  }
  function restoreValues(el, kept) {
    el.querySelectorAll("input[type=text]").forEach(function (input) {
      var key = input.form ? input.form.getAttribute("action") + " " + input.name : "";
      if (kept[key]) input.value = kept[key];
    });
  }
  function apply(msg) {
    Object.keys(msg.parts).forEach(function (id) {
      var el = document.getElementById(id);
      var html = msg.parts[id];
      if (!el || lastHtml[id] === html) return;
      lastHtml[id] = html;
      var kept = typedValues(el); // a reason being typed survives the redraw
      el.innerHTML = html;
      restoreValues(el, kept);
    });
    document.body.dataset.version = msg.version;
    setClock(msg.market_time);
    data = msg.charts || {};
    drawAll();
    tick();
    window.rebalanceRefreshes += 1;
  }
  function connect() {
    var url = document.body.dataset.events;
    if (!url || !window.EventSource) return;
    var household = new URLSearchParams(window.location.search).get("household");
    var source = new EventSource(url + "?since=" + encodeURIComponent(document.body.dataset.version || "") +
      (household ? "&household=" + encodeURIComponent(household) : ""));
    source.addEventListener("refresh", function (ev) { apply(JSON.parse(ev.data)); });
    source.addEventListener("clock", function (ev) {
      setClock(JSON.parse(ev.data).market_time);
      tick();
    });
    source.addEventListener("signed-out", function () {
      source.close();
      state("signed out: reload the page to sign in");
    });
    source.onopen = function () { state("live"); };
    source.onerror = function () {
      state(source.readyState === EventSource.CLOSED ? "not live: reload the page" : "reconnecting...");
    };
  }

  setClock(document.body.dataset.marketNow);
  drawAll();
  tick();
  setInterval(tick, 1000);
  connect();
})();
