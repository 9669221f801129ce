/* SVG charts for the console, drawn from /api/v1 JSON. No library: each
 * chart is a function returning an <svg> element. */
"use strict";
(function (global) {
  const NS = "http://www.w3.org/2000/svg"; /* a namespace name, never fetched */
  function el(tag, attrs, kids) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    for (const c of kids || []) e.append(c);
    return e;
  }
  function text(x, y, s, attrs) {
    const t = el("text", Object.assign({ x: x, y: y }, attrs || {}));
    t.textContent = s;
    return t;
  }
  function svg(w, h, label) {
    return el("svg", { viewBox: "0 0 " + w + " " + h, class: "chart", role: "img", "aria-label": label });
  }
  function fmt(v) {
    if (v === null || v === undefined || isNaN(v)) return "-";
    const a = Math.abs(v);
    if (a >= 1000) return v.toFixed(0);
    if (a >= 10) return v.toFixed(1);
    if (a >= 0.01 || a === 0) return v.toFixed(2);
    return v.toPrecision(2);
  }

  /* Horizontal bars: rows [{label, value, cls, note}]. */
  function bars(rows, opt) {
    opt = opt || {};
    const w = 560, rowh = 22, left = 150, right = 150;
    const h = Math.max(1, rows.length) * rowh + 10;
    const s = svg(w, h, opt.label || "bar chart");
    const max = Math.max(opt.max || 0, ...rows.map((r) => r.value || 0)) || 1;
    rows.forEach((r, i) => {
      const y = 5 + i * rowh;
      const bw = ((w - left - right) * (r.value || 0)) / max;
      s.append(text(left - 6, y + 14, r.label, { "text-anchor": "end" }));
      s.append(el("rect", { x: left, y: y + 3, width: Math.max(bw, r.value ? 1 : 0), height: rowh - 8, class: r.cls || "spent", "data-value": String(r.value) }));
      s.append(text(left + bw + 4, y + 14, r.note !== undefined ? r.note : fmt(r.value)));
    });
    if (!rows.length) s.append(text(8, 16, opt.empty || "nothing yet"));
    return s;
  }

  /* Stacked horizontal bars: rows [{label, parts: [{value, cls}], note}],
   * each row's parts side by side, scaled to the largest row. */
  function stack(rows, opt) {
    opt = opt || {};
    const w = 560, rowh = 22, left = 150, right = 150;
    const h = Math.max(1, rows.length) * rowh + 10;
    const s = svg(w, h, opt.label || "stacked bar chart");
    const total = (r) => r.parts.reduce((a, p) => a + (p.value || 0), 0);
    const max = Math.max(0, ...rows.map(total)) || 1;
    rows.forEach((r, i) => {
      const y = 5 + i * rowh;
      let x = left;
      s.append(text(left - 6, y + 14, r.label, { "text-anchor": "end" }));
      for (const p of r.parts) {
        const bw = ((w - left - right) * (p.value || 0)) / max;
        if (p.value) s.append(el("rect", { x: x, y: y + 3, width: Math.max(bw, 1), height: rowh - 8, class: p.cls, "data-value": String(p.value) }));
        x += bw;
      }
      s.append(text(x + 4, y + 14, r.note !== undefined ? r.note : fmt(total(r))));
    });
    if (!rows.length) s.append(text(8, 16, opt.empty || "nothing yet"));
    return s;
  }

  /* Lines over x: series [{name, cls, points: [[x, y], ...]}] (a third
   * element true: the line breaks before the point); hlines
   * [{y, cls, label}], vlines [{x, label}]; x and y formatted by
   * opt.xfmt / opt.yfmt. */
  function lines(series, opt) {
    opt = opt || {};
    const w = 560, h = opt.height || 200, l = 56, r = 14, t = 12, b = 26;
    const s = svg(w, h, opt.label || "line chart");
    const pts = series.flatMap((x) => x.points);
    const hl = opt.hlines || [];
    if (!pts.length) {
      s.append(text(8, 16, opt.empty || "no samples yet"));
      return s;
    }
    let x0 = Math.min(...pts.map((p) => p[0])), x1 = Math.max(...pts.map((p) => p[0]));
    if (opt.xmin !== undefined) x0 = Math.min(x0, opt.xmin);
    if (opt.xmax !== undefined) x1 = Math.max(x1, opt.xmax);
    if (x1 === x0) x1 = x0 + 1;
    let y1 = Math.max(0, ...pts.map((p) => p[1]), ...hl.map((x) => x.y)) * 1.1;
    if (!(y1 > 0)) y1 = 1;
    const X = (v) => l + ((w - l - r) * (v - x0)) / (x1 - x0);
    const Y = (v) => h - b - ((h - t - b) * v) / y1;
    s.append(el("line", { x1: l, y1: h - b, x2: w - r, y2: h - b, class: "axis" }));
    s.append(el("line", { x1: l, y1: t, x2: l, y2: h - b, class: "axis" }));
    const yf = opt.yfmt || fmt, xf = opt.xfmt || fmt;
    for (let i = 0; i <= 4; i++) {
      const v = (y1 * i) / 4;
      s.append(text(l - 4, Y(v) + 4, yf(v), { "text-anchor": "end" }));
    }
    s.append(text(l, h - 8, xf(x0)));
    s.append(text(w - r, h - 8, xf(x1), { "text-anchor": "end" }));
    for (const x of opt.vlines || []) {
      s.append(el("line", { x1: X(x.x), y1: t, x2: X(x.x), y2: h - b, class: "ideal step-mark" }));
      const right = X(x.x) > w - r - 90;
      s.append(text(X(x.x) + (right ? -3 : 3), t + 10, x.label, right ? { "text-anchor": "end" } : {}));
    }
    for (const x of hl) {
      s.append(el("line", { x1: l, y1: Y(x.y), x2: w - r, y2: Y(x.y), class: x.cls }));
      s.append(x.left ? text(l + 4, Y(x.y) - 3, x.label) : text(w - r - 2, Y(x.y) - 3, x.label, { "text-anchor": "end" }));
    }
    for (const se of series) {
      if (!se.points.length) continue;
      /* a point [x, y, true] starts a new piece of the line */
      const d = se.points.map((p, i) => (i && !p[2] ? "L" : "M") + X(p[0]).toFixed(1) + " " + Y(p[1]).toFixed(1)).join(" ");
      s.append(el("path", { d: d, class: "line " + se.cls }));
      for (const p of se.points) s.append(el("circle", { cx: X(p[0]), cy: Y(p[1]), r: 2.5, class: se.cls }));
    }
    return s;
  }

  /* The rollout's steps: one box per weight, done / now / to come. */
  function steps(weights, index, weight) {
    const w = 560, h = 54;
    const s = svg(w, h, "rollout steps");
    const list = weights.length ? weights : [weight];
    const bw = (w - 20) / list.length;
    list.forEach((p, i) => {
      const cls = "step" + (i < index ? " done" : i === index || !weights.length ? " now" : "");
      s.append(el("rect", { x: 10 + i * bw, y: 8, width: bw - 6, height: 22, rx: 3, class: cls }));
      s.append(text(10 + i * bw + (bw - 6) / 2, 24, p + "%", { "text-anchor": "middle" }));
    });
    s.append(text(10, 48, weights.length ? "step " + (index + 1) + " of " + weights.length + ", canary at " + weight + "%" : "fixed weight " + weight + "% (no steps)"));
    return s;
  }

  global.AfSvg = { el: el, bars: bars, stack: stack, lines: lines, steps: steps, fmt: fmt };
})(window);
