// The per-principal score timeline, as plain SVG: the points each event added
// (bars), the principal's window score after it (line), the alert threshold
// (dashed) and the alerts (red triangles), over event time (UTC).

const NS = "http://www.w3.org/2000/svg";
const W = 960, H = 300, L = 48, R = 20, T = 18, B = 42;
const MIN = 60_000, HOUR = 60 * MIN, DAY = 24 * HOUR;
const TIME_STEPS = [MIN, 2 * MIN, 5 * MIN, 10 * MIN, 15 * MIN, 30 * MIN, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 30 * DAY, 365 * DAY];

function el(name, attrs = {}, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function niceStep(range, count) {
  const raw = range / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
}

const pad2 = (n) => String(n).padStart(2, "0");
function timeLabel(ms, withDate) {
  const d = new Date(ms);
  const hm = `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
  return withDate ? `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${hm}` : hm;
}

/**
 * Groups points into time clusters: a new cluster starts after a gap of more
 * than two windows, so a night between two bursts does not squash both into
 * the edges. Too many clusters: one linear axis.
 */
function clusters(points, windowMs, width) {
  const gap = 2 * windowMs;
  let list = [];
  for (const p of points) {
    const last = list[list.length - 1];
    if (last && p.t - last.end <= gap) last.end = p.t;
    else list.push({ start: p.t, end: p.t });
  }
  if (list.length > 6) list = [{ start: points[0].t, end: points[points.length - 1].t }];
  for (const c of list) {
    const span = Math.max(c.end - c.start, windowMs / 2);
    const mid = (c.start + c.end) / 2;
    c.start = Math.min(c.start, mid - span / 2) - span * 0.06;
    c.end = Math.max(c.end, mid + span / 2) + span * 0.06;
  }
  const total = list.reduce((sum, c) => sum + (c.end - c.start), 0);
  const avail = width - BREAK * (list.length - 1);
  let x0 = L;
  for (const c of list) {
    // Each cluster gets a share of the width by its duration, but never too little to read.
    c.px = Math.max(avail * ((c.end - c.start) / total), Math.min(140, avail / list.length));
    c.x0 = x0;
    x0 += c.px + BREAK;
  }
  const scale = avail / list.reduce((sum, c) => sum + c.px, 0);
  x0 = L;
  for (const c of list) {
    c.px *= scale;
    c.x0 = x0;
    x0 += c.px + BREAK;
  }
  return list;
}

const BREAK = 28;

/**
 * Draws `points` ([{t, added, score, alert, op, category, time, row}], sorted by t)
 * into `container`. `onPick(row)` is called when a point is clicked.
 */
export function drawChart(container, points, { threshold, windowMinutes = 15, onPick }) {
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "chart" });
  if (!points.length) {
    svg.append(el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" }, "No scored events: run events with matches to see a timeline."));
    container.replaceChildren(svg);
    return;
  }
  const windowMs = windowMinutes * MIN;
  const parts = clusters(points, windowMs, W - L - R);
  const part = (t) => parts.find((c) => t <= c.end) ?? parts[parts.length - 1];
  const x = (t) => {
    const c = part(t);
    return c.x0 + ((t - c.start) / (c.end - c.start)) * c.px;
  };
  const top = Math.max(threshold, ...points.map((p) => Math.max(p.score, p.added))) * 1.15;
  const y = (v) => H - B - (v / top) * (H - T - B);

  const grid = el("g", { class: "grid" });
  const step = niceStep(top, 5);
  for (let v = 0; v <= top; v += step) {
    grid.append(el("line", { x1: L, x2: W - R, y1: y(v), y2: y(v) }));
    grid.append(el("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, String(+v.toFixed(3))));
  }
  for (const [i, c] of parts.entries()) {
    const fit = Math.max(1, Math.floor(c.px / 95));
    const tStep = TIME_STEPS.find((s) => (c.end - c.start) / s <= fit) ?? 365 * DAY;
    let lastDay = i === 0 ? "" : "new";
    for (let t = Math.ceil(c.start / tStep) * tStep; t <= c.end; t += tStep) {
      const day = new Date(t).toISOString().slice(0, 10);
      grid.append(el("line", { x1: x(t), x2: x(t), y1: T, y2: H - B, class: "v" }));
      grid.append(el("text", { x: x(t), y: H - B + 16, "text-anchor": "middle" }, timeLabel(t, day !== lastDay || lastDay === "new")));
      lastDay = day;
    }
    if (i > 0) {
      // A break in the time axis: the gap between two bursts is not drawn to scale.
      const bx = c.x0 - BREAK / 2;
      const later = c.start - parts[i - 1].end;
      grid.append(el("path", { d: `M${bx - 4},${H - B + 5} l4,-10 M${bx + 1},${H - B + 5} l4,-10`, class: "break" }));
      grid.append(el("text", { x: bx, y: T + 10, "text-anchor": "middle", class: "gap" }, later >= DAY ? `+${Math.round(later / DAY)} d` : `+${Math.round(later / HOUR)} h`));
    }
  }
  grid.append(el("text", { x: W - R, y: H - 6, "text-anchor": "end", class: "axis" }, "event time (UTC)"));
  grid.append(el("text", { x: 12, y: T + (H - T - B) / 2, transform: `rotate(-90 12 ${T + (H - T - B) / 2})`, "text-anchor": "middle", class: "axis" }, "points"));
  svg.append(grid);

  const bars = el("g", { class: "bars" });
  for (const p of points) {
    if (p.added > 0) bars.append(el("rect", { x: x(p.t) - 4, y: y(p.added), width: 8, height: y(0) - y(p.added) }));
  }
  svg.append(bars);

  svg.append(el("line", { x1: L, x2: W - R, y1: y(threshold), y2: y(threshold), class: "threshold" }));
  svg.append(el("text", { x: L + 6, y: y(threshold) - 6, class: "threshold-label" }, `alert threshold ${threshold}`));

  // The score line, broken where the window has emptied between two events.
  let line = [];
  const lines = [line];
  for (const [i, p] of points.entries()) {
    if (i > 0 && (p.t - points[i - 1].t > windowMs || part(p.t) !== part(points[i - 1].t))) lines.push((line = []));
    line.push(`${x(p.t)},${y(p.score)}`);
  }
  for (const l of lines) svg.append(el("polyline", { class: "score", points: l.join(" ") }));
  const dots = el("g", { class: "dots" });
  for (const p of points) {
    const dot = el("circle", { cx: x(p.t), cy: y(p.score), r: p.alert ? 6 : 4, class: p.alert ? "alert" : "" });
    dot.append(el("title", {}, `${p.time}\n${p.op}\n${p.category}: +${p.added} → window score ${p.score}${p.alert ? "\nALERT" : ""}\n(click: show in the table)`));
    dot.addEventListener("click", () => onPick?.(p.row));
    dots.append(dot);
    if (p.alert) {
      const cx = x(p.t), cy = y(p.score) - 10;
      dots.append(el("path", { d: `M${cx - 7},${cy - 10} L${cx + 7},${cy - 10} L${cx},${cy} Z`, class: "alert-marker" }));
      dots.append(el("text", { x: cx, y: cy - 14, "text-anchor": "middle", class: "alert-label" }, "alert"));
    }
  }
  svg.append(dots);
  container.replaceChildren(svg);
}
