// The element helper every view builds its DOM with, and the formatters for what people read
// (times, durations, distances, energy, money). Data only ever becomes text nodes, never HTML,
// so nothing a car or a person typed can turn into markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

function setAttributes(el, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === 'style' && typeof value === 'object') {
      // CSSOM, not a style attribute: the page's CSP forbids inline style attributes.
      Object.assign(el.style, value);
    } else if (name === 'dataset' && typeof value === 'object') {
      Object.assign(el.dataset, value);
    } else if ((name === 'value' || name === 'checked') && name in el) {
      el[name] = value; // the live property, which an attribute only seeds
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** An HTML element: h('button', {class: 'btn', onclick: fn, 'data-test': 'x'}, 'Text'). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttributes(el, attrs);
  append(el, children);
  return el;
}

/** An SVG element, the same way: svg('circle', {cx: 1, cy: 2, r: 3}). */
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttributes(el, attrs);
  append(el, children);
  return el;
}

/** Replace everything inside ``el`` with ``children``. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// --- the world's clock -----------------------------------------------------------------------
// The demo world runs on a simulated clock (60× real time by default), so "3 s ago" must be
// measured on the car's clock, not the browser's. The app syncs this from the server's answers
// (the state API's as_of, the command session's car time and clock speed); until then it is the
// browser's clock.

export const worldClock = {
  _baseMs: null,
  _at: 0,
  speed: 1,
  /** The server says its clock reads ``isoOrMs`` now and runs ``speed`` times real time. */
  sync(isoOrMs, speed) {
    const ms = typeof isoOrMs === 'number' ? isoOrMs : Date.parse(isoOrMs);
    if (Number.isNaN(ms)) return;
    if (typeof speed === 'number' && speed >= 0) this.speed = speed; // 0: moved by hand
    this._baseMs = ms;
    this._at = performance.now();
  },
  /** A time seen in fresh data: the clock reads at least that (it never runs backwards). */
  observe(iso) {
    const ms = Date.parse(iso);
    if (!Number.isNaN(ms) && (this._baseMs === null || ms > this.now())) this.sync(ms);
  },
  /** Milliseconds since the Unix epoch on the world's clock. */
  now() {
    if (this._baseMs === null) return Date.now();
    return this._baseMs + (performance.now() - this._at) * this.speed;
  },
};

// --- formatters ------------------------------------------------------------------------------

// A plain space between a number and its unit (searchable text; no surprises for tests).
const SP = ' ';
const DASH = '—';

function isNumber(x) {
  return typeof x === 'number' && Number.isFinite(x);
}

function num(x, digits = 0) {
  if (!isNumber(x)) return DASH;
  return x.toLocaleString(undefined, {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

const timeOnly = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateTime = new Intl.DateTimeFormat(undefined, {
  weekday: 'short',
  day: 'numeric',
  month: 'short',
  hour: '2-digit',
  minute: '2-digit',
});

export const fmt = {
  num,
  /** "08:03" on the world's today, else "Mon 1 Jun, 08:03". */
  time(iso) {
    if (!iso) return DASH;
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return DASH;
    const today = new Date(worldClock.now());
    return d.toDateString() === today.toDateString() ? timeOnly.format(d) : dateTime.format(d);
  },
  /** "12 s ago", "5 min ago", "3 h ago", "2 days ago" on the world's clock. */
  ago(iso) {
    const ms = Date.parse(iso);
    if (Number.isNaN(ms)) return DASH;
    const s = Math.max(0, (worldClock.now() - ms) / 1000);
    if (s < 5) return 'just now';
    if (s < 60) return `${Math.round(s)}${SP}s ago`;
    if (s < 3600) return `${Math.round(s / 60)}${SP}min ago`;
    if (s < 86400) return `${Math.round(s / 3600)}${SP}h ago`;
    const days = Math.round(s / 86400);
    return `${days}${SP}day${days === 1 ? '' : 's'} ago`;
  },
  /** Metres as "850 m" or "12.3 km" (whole kilometres from 100 km on). */
  km(m) {
    if (!isNumber(m)) return DASH;
    if (Math.abs(m) < 1000) return `${num(m, 0)}${SP}m`;
    return `${num(m / 1000, Math.abs(m) < 100_000 ? 1 : 0)}${SP}km`;
  },
  /** Seconds as "45 s", "12 min", "1 h 05 min". */
  duration(s) {
    if (!isNumber(s)) return DASH;
    const total = Math.round(Math.abs(s));
    if (total < 60) return `${total}${SP}s`;
    const minutes = Math.round(total / 60);
    if (minutes < 60) return `${minutes}${SP}min`;
    const hours = Math.floor(minutes / 60);
    return `${hours}${SP}h ${String(minutes % 60).padStart(2, '0')}${SP}min`;
  },
  kwh(x) {
    return isNumber(x) ? `${num(x, Math.abs(x) < 10 ? 2 : 1)}${SP}kWh` : DASH;
  },
  kw(x) {
    return isNumber(x) ? `${num(x, Math.abs(x) < 10 ? 1 : 0)}${SP}kW` : DASH;
  },
  percent(x, digits = 0) {
    return isNumber(x) ? `${num(x, digits)}${SP}%` : DASH;
  },
  celsius(x, digits = 1) {
    return isNumber(x) ? `${num(x, digits)}${SP}°C` : DASH;
  },
  money(x, currency = 'EUR') {
    if (!isNumber(x)) return DASH;
    try {
      return x.toLocaleString(undefined, { style: 'currency', currency });
    } catch {
      return `${num(x, 2)}${SP}${currency}`; // an unknown currency code
    }
  },
  /** A unit as people write it: VSS and home-device units alike. */
  unit(u) {
    const units = {
      percent: '%',
      celsius: '°C',
      Celsius: '°C',
      Cel: '°C',
      'km/h': 'km/h',
      kW: 'kW',
      W: 'W',
      kWh: 'kWh',
      m: 'm',
      km: 'km',
      lx: 'lx',
      degrees: '°',
    };
    return u in units ? units[u] : u || '';
  },
};
