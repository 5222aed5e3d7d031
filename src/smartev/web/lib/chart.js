// SVG line charts of a value over time (speed, power, SoC over a drive or a charging session):
// axes with "nice" ticks and the unit, time on x, a readout that follows the pointer, a tap or
// the arrow keys, and a width that follows its container (the viewBox is re-laid out at the
// element's real width, so text keeps its size on a phone instead of shrinking with the chart).
//
// Raw car signals are sent on change, so a value holds until the next sample: such series are
// drawn as steps (`step: true`); averaged buckets are drawn as straight lines between points.

import { svg, h, fmt } from './dom.js';

const HEIGHT = 200;
const PAD = { top: 24, right: 14, bottom: 26, left: 46 };
const DEFAULT_WIDTH = 640;
const NBSP = '\u00a0';

// Steps of the time axis, in seconds: the smallest that gives at most ~6 ticks is used.
const TIME_STEPS_S = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800,
  604800,
];

/** Round numbers between lo and hi: 1, 2 or 5 × 10^n apart, about ``count`` of them. */
export function niceTicks(lo, hi, count = 5) {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return { lo: 0, hi: 1, ticks: [0, 1] };
  if (hi - lo < 1e-9) {
    const pad = Math.abs(hi) > 1 ? Math.abs(hi) * 0.05 : 1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || 10 * power;
  const first = Math.floor(lo / step) * step;
  const last = Math.ceil(hi / step) * step;
  const ticks = [];
  for (let v = first; v <= last + step / 2; v += step) ticks.push(Math.round(v / step) * step);
  return { lo: first, hi: last, ticks, step };
}

function timeTicks(t0, t1) {
  const span = Math.max(1, (t1 - t0) / 1000);
  const step = (TIME_STEPS_S.find((s) => span / s <= 6) || TIME_STEPS_S.at(-1)) * 1000;
  // Ticks on whole local minutes/hours: offset by the time zone so 08:00 is a tick, not 07:23.
  const tz = new Date(t0).getTimezoneOffset() * 60_000;
  const ticks = [];
  for (let t = Math.ceil((t0 - tz) / step) * step + tz; t <= t1; t += step) ticks.push(t);
  return { ticks, step };
}

function timeLabel(ms, stepMs) {
  const d = new Date(ms);
  const opts = { hour: '2-digit', minute: '2-digit' };
  if (stepMs < 60_000) opts.second = '2-digit';
  if (stepMs >= 86_400_000)
    return d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' });
  return d.toLocaleTimeString(undefined, opts);
}

function decimalsFor(step) {
  if (!Number.isFinite(step) || step >= 1) return 0;
  return Math.min(4, Math.ceil(-Math.log10(step)));
}

/** The index of the last point at or before ``t`` (points sorted by time), or 0. */
function indexAt(points, t) {
  let lo = 0;
  let hi = points.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (points[mid][0] <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * A chart element. Options:
 *  - ``points``: [[timeMs, value], …] sorted by time (non-numbers are skipped);
 *  - ``label``: what it shows ("Speed"), ``unit``: as people write it ("km/h");
 *  - ``start``/``end``: the time range in ms (default: the points' range);
 *  - ``step``: hold each value until the next sample (signals sent on change);
 *  - ``digits``: decimals of the readout; ``test``: the svg's data-test; ``zero``: include 0.
 */
export function lineChart(options) {
  const { label, unit = '', step = false, digits = 0, test, zero = false } = options;
  const points = (options.points || []).filter(
    (p) => Number.isFinite(p[0]) && typeof p[1] === 'number' && Number.isFinite(p[1]),
  );
  const start = Number.isFinite(options.start) ? options.start : points.length ? points[0][0] : 0;
  let end = Number.isFinite(options.end) ? options.end : points.length ? points.at(-1)[0] : 1;
  if (end <= start) end = start + 1000;

  const root = h('figure', { class: 'chart' });
  const caption = h('figcaption', { class: 'chart-title' }, label, unit ? ` (${unit})` : '');
  const readout = h('div', { class: 'chart-readout', 'aria-hidden': 'true' });
  const chart = svg('svg', {
    class: 'chart-svg',
    'data-test': test,
    role: 'img',
    tabindex: points.length ? 0 : undefined,
    'aria-label': `${label} over time${points.length ? '' : ': no data'}. Arrow keys move the readout.`,
    preserveAspectRatio: 'none',
  });
  root.append(caption, chart, readout);

  let width = DEFAULT_WIDTH;
  let layout = null; // what the last draw computed: scales for the pointer readout
  let cursor = null; // index of the point the readout shows

  function draw() {
    chart.replaceChildren();
    chart.setAttribute('viewBox', `0 0 ${width} ${HEIGHT}`);
    chart.setAttribute('height', HEIGHT);
    const plotW = width - PAD.left - PAD.right;
    const plotH = HEIGHT - PAD.top - PAD.bottom;
    const values = points.map((p) => p[1]);
    let lo = values.length ? Math.min(...values) : 0;
    let hi = values.length ? Math.max(...values) : 1;
    if (zero) {
      lo = Math.min(lo, 0);
      hi = Math.max(hi, 0);
    }
    const y = niceTicks(lo, hi, 4);
    const x = (t) => PAD.left + ((t - start) / (end - start)) * plotW;
    const yOf = (v) => PAD.top + (1 - (v - y.lo) / (y.hi - y.lo)) * plotH;
    layout = { x, yOf, plotW, plotH };

    const grid = svg('g', { class: 'chart-grid' });
    const yDigits = decimalsFor(y.step);
    for (const v of y.ticks) {
      const py = yOf(v);
      grid.append(
        svg('line', { x1: PAD.left, x2: width - PAD.right, y1: py, y2: py }),
        svg('text', { x: PAD.left - 6, y: py + 4, class: 'chart-ylabel' }, fmt.num(v, yDigits)),
      );
    }
    const tt = timeTicks(start, end);
    for (const t of tt.ticks) {
      const px = x(t);
      grid.append(
        svg('line', { x1: px, x2: px, y1: PAD.top + plotH, y2: PAD.top + plotH + 4 }),
        svg('text', { x: px, y: HEIGHT - 8, class: 'chart-xlabel' }, timeLabel(t, tt.step)),
      );
    }
    grid.append(
      svg('line', {
        class: 'chart-axis',
        x1: PAD.left,
        x2: width - PAD.right,
        y1: PAD.top + plotH,
        y2: PAD.top + plotH,
      }),
      svg('text', { x: PAD.left - 6, y: 11, class: 'chart-unit chart-ylabel' }, unit),
    );
    chart.append(grid);

    // Absolute M/L commands only, so the path reads the same to anything that parses it.
    let d = '';
    let held = null;
    points.forEach(([t, v], i) => {
      const px = x(t).toFixed(1);
      const py = yOf(v).toFixed(1);
      if (i === 0) d = `M${px} ${py}`;
      else d += step ? `L${px} ${held}L${px} ${py}` : `L${px} ${py}`;
      held = py;
    });
    // A value sent on change still held at the end of the range.
    if (step && points.length) d += `L${x(end).toFixed(1)} ${held}`;
    chart.append(svg('path', { class: 'chart-line', d, 'data-test': 'series' }));
    if (!points.length) {
      chart.append(
        svg('text', { x: width / 2, y: HEIGHT / 2, class: 'chart-empty' }, 'No data for this time'),
      );
    }
    chart.append(
      svg('line', { class: 'chart-cursor', x1: 0, x2: 0, y1: PAD.top, y2: PAD.top + plotH }),
      svg('circle', { class: 'chart-dot', r: 4, cx: -10, cy: -10 }),
    );
    showCursor(cursor);
  }

  function showCursor(i) {
    const line = chart.querySelector('.chart-cursor');
    const dot = chart.querySelector('.chart-dot');
    if (i === null || !points.length || !layout) {
      root.classList.remove('chart-active');
      readout.textContent = '';
      return;
    }
    cursor = Math.max(0, Math.min(points.length - 1, i));
    const [t, v] = points[cursor];
    const px = layout.x(t);
    line.setAttribute('x1', px);
    line.setAttribute('x2', px);
    dot.setAttribute('cx', px);
    dot.setAttribute('cy', layout.yOf(v));
    root.classList.add('chart-active');
    const when = new Date(t).toLocaleTimeString(undefined, {
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    readout.textContent = `${when} · ${fmt.num(v, digits)}${unit ? NBSP + unit : ''}`;
  }

  function pointerAt(event) {
    if (!layout || !points.length) return;
    const box = chart.getBoundingClientRect();
    const px = ((event.clientX - box.left) / box.width) * width;
    const t = start + ((px - PAD.left) / layout.plotW) * (end - start);
    let i = indexAt(points, t);
    // The nearer of the two neighbours, so the readout snaps to what is under the finger.
    if (i + 1 < points.length && points[i + 1][0] - t < t - points[i][0]) i += 1;
    showCursor(i);
  }

  chart.addEventListener('pointermove', pointerAt);
  chart.addEventListener('pointerdown', pointerAt);
  chart.addEventListener('pointerleave', (e) => {
    if (e.pointerType === 'mouse') showCursor(null);
  });
  chart.addEventListener('keydown', (e) => {
    if (!points.length) return;
    const jump = Math.max(1, Math.round(points.length / 20));
    const moves = { ArrowLeft: -1, ArrowRight: 1, PageDown: -jump, PageUp: jump };
    if (e.key in moves) {
      showCursor((cursor === null ? 0 : cursor) + moves[e.key]);
      e.preventDefault();
    } else if (e.key === 'Home' || e.key === 'End') {
      showCursor(e.key === 'Home' ? 0 : points.length - 1);
      e.preventDefault();
    } else if (e.key === 'Escape') {
      showCursor(null);
    }
  });
  chart.addEventListener('blur', () => showCursor(null));

  // Lay out again at the real width whenever it changes (phone rotation, sidebar, resize).
  const resize = new ResizeObserver((entries) => {
    const w = Math.round(entries[0].contentRect.width);
    if (w > 0 && Math.abs(w - width) >= 2) {
      width = w;
      draw();
    }
  });
  draw();
  resize.observe(root);
  /** Stop following the container's size (call when the view goes away). */
  root.dispose = () => resize.disconnect();
  return root;
}

/**
 * The points of an API series ({resolution, points: [{ts, value}], buckets: [{ts, avg}]}) as
 * [[timeMs, value × scale]], and whether they are raw samples (held until the next one).
 */
export function seriesPoints(series, scale = 1) {
  if (!series) return { points: [], step: false };
  if (series.resolution === 'raw') {
    return {
      points: (series.points || [])
        .filter((p) => typeof p.value === 'number')
        .map((p) => [Date.parse(p.ts), p.value * scale]),
      step: true,
    };
  }
  return {
    points: (series.buckets || [])
      .filter((b) => typeof b.avg === 'number')
      .map((b) => [Date.parse(b.ts), b.avg * scale]),
    step: false,
  };
}
