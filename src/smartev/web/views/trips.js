// Drives and charging sessions (#/trips): the car's two lists, newest first and paged with
// "More", and one drive or session in full (#/trips/drive/<id>, #/trips/charge/<id>) with its
// numbers, charts of speed, power and SoC, and the drive's route. New drives and sessions arrive
// over the live socket; after a reconnect the lists are read again.

import { h, svg, fmt, replace } from '../lib/dom.js';
import { ApiError } from '../lib/api.js';
import { lineChart, seriesPoints } from '../lib/chart.js';

const PAGE = 20;
const CAR_KEY = 'smartev.tripsCar';
const BATTERY = 'Vehicle.Powertrain.TractionBattery';
const SPEED = 'Vehicle.Speed';
const POWER = `${BATTERY}.CurrentPower`; // W
const CHARGE_POWER = `${BATTERY}.Charging.AveragePower`; // kW
const SOC = `${BATTERY}.StateOfCharge.Current`;
const LAT = 'Vehicle.CurrentLocation.Latitude';
const LON = 'Vehicle.CurrentLocation.Longitude';

// --- which car ---------------------------------------------------------------------------------

function tripCars(ctx) {
  const sees = (c) => (c.scopes || []).some((s) => s === 'drives' || s === 'charges');
  const here = ctx.cars.filter((c) => ctx.household && c.household_id === ctx.household.id);
  return [...here, ...ctx.cars.filter((c) => !here.includes(c))].filter(sees);
}

function chosenCar(ctx, cars) {
  let saved = null;
  try {
    saved = sessionStorage.getItem(CAR_KEY);
  } catch {
    // storage disabled: the first car
  }
  const preferred = ctx.car && cars.find((c) => c.car_id === ctx.car.car_id);
  return cars.find((c) => c.car_id === saved) || preferred || cars[0] || null;
}

function remember(carId) {
  try {
    sessionStorage.setItem(CAR_KEY, carId);
  } catch {
    // storage disabled
  }
}

const carPath = (carId) => `/cars/${encodeURIComponent(carId)}`;

// --- words -------------------------------------------------------------------------------------

function place(name, lat, lon) {
  if (name) return name;
  if (typeof lat === 'number' && typeof lon === 'number')
    return `${lat.toFixed(3)}, ${lon.toFixed(3)}`;
  return '—';
}

const km = (x) => (typeof x === 'number' ? fmt.km(x * 1000) : '—');
const whPerKm = (x) => (typeof x === 'number' ? `${fmt.num(x, 0)}\u00a0Wh/km` : '—');
const socRange = (a, b) =>
  typeof a === 'number' || typeof b === 'number' ? `${fmt.num(a, 0)} → ${fmt.percent(b)}` : '—';

function stat(label, value) {
  return h('div', { class: 'fact' }, h('dt', {}, label), h('dd', {}, value));
}

function driveRow(d) {
  return h(
    'a',
    {
      class: 'trip-row',
      href: `#/trips/drive/${encodeURIComponent(d.id)}`,
      'data-test': 'drive-row',
    },
    h(
      'div',
      { class: 'trip-head' },
      h('span', { class: 'trip-when' }, fmt.time(d.start)),
      h('span', { class: 'trip-duration' }, fmt.duration(d.duration_s)),
    ),
    h(
      'div',
      { class: 'trip-places' },
      place(d.start_place, d.start_lat, d.start_lon),
      h('span', { class: 'arrow', 'aria-label': 'to' }, ' → '),
      place(d.end_place, d.end_lat, d.end_lon),
    ),
    h(
      'div',
      { class: 'trip-stats' },
      h('span', {}, km(d.distance_km)),
      h('span', {}, fmt.kwh(d.energy_used_kwh)),
      h('span', {}, whPerKm(d.efficiency_wh_per_km)),
      h('span', {}, socRange(d.soc_start, d.soc_end)),
    ),
  );
}

function chargeRow(c) {
  return h(
    'a',
    {
      class: 'trip-row',
      href: `#/trips/charge/${encodeURIComponent(c.id)}`,
      'data-test': 'charge-row',
    },
    h(
      'div',
      { class: 'trip-head' },
      h('span', { class: 'trip-when' }, fmt.time(c.start)),
      c.kind ? h('span', { class: `badge badge-${c.kind.toLowerCase()}` }, c.kind) : null,
      h('span', { class: 'trip-duration' }, fmt.duration(c.duration_s)),
    ),
    h('div', { class: 'trip-places' }, place(c.place, c.lat, c.lon)),
    h(
      'div',
      { class: 'trip-stats' },
      h('span', {}, `+${fmt.kwh(c.energy_added_kwh)}`),
      h('span', {}, `max ${fmt.kw(c.power_max_kw)}`),
      h('span', {}, socRange(c.soc_start, c.soc_end)),
      h(
        'span',
        {},
        typeof c.cost === 'number' ? fmt.money(c.cost, c.currency || 'EUR') : 'no tariff',
      ),
    ),
  );
}

// --- the lists ---------------------------------------------------------------------------------

/** One paged list (drives or charges) of one car, kept in step with the live socket. */
function pagedList(ctx, car, kind) {
  const key = kind === 'drive' ? 'drives' : 'charges';
  const row = kind === 'drive' ? driveRow : chargeRow;
  const items = [];
  let exhausted = false;
  const list = h('div', { class: 'trip-list', role: 'list' });
  const status = h('p', { class: 'muted', role: 'status' });
  const more = h(
    'button',
    { class: 'btn btn-quiet', type: 'button', hidden: true, onclick: () => load(false) },
    'More',
  );

  function render() {
    replace(list, ...items.map((x) => h('div', { role: 'listitem' }, row(x))));
    status.textContent = items.length
      ? ''
      : kind === 'drive'
        ? 'No drives yet.'
        : 'No charging sessions yet.';
    more.hidden = exhausted || !items.length;
  }

  async function load(fresh, count = PAGE) {
    more.disabled = true;
    const query = { limit: Math.min(500, count) };
    if (!fresh && items.length) query.end = items.at(-1).start;
    try {
      const body = await ctx.api.get(`${carPath(car.car_id)}/${key}`, query);
      const got = body[key];
      if (fresh) items.length = 0;
      for (const x of got) if (!items.some((y) => y.id === x.id)) items.push(x);
      exhausted = got.length < query.limit;
      render();
    } catch (err) {
      status.textContent =
        err instanceof ApiError && err.status === 403
          ? err.message
          : `Could not load: ${err.message}`;
    } finally {
      more.disabled = false;
    }
  }

  /** A drive or session the live socket announced: at its place by start time. */
  function upsert(message) {
    if (message.car_id !== car.car_id) return;
    const { type, ...x } = message;
    const at = items.findIndex((y) => y.id === x.id);
    if (at >= 0) items[at] = { ...items[at], ...x };
    else {
      items.push(x);
      items.sort((a, b) => Date.parse(b.start) - Date.parse(a.start));
    }
    render();
  }

  return {
    el: h('div', { class: 'trip-list-wrap' }, list, status, more),
    load,
    upsert,
    reload: () => load(true, Math.max(PAGE, items.length)),
  };
}

async function mountLists(el, ctx) {
  const cars = tripCars(ctx);
  const car = chosenCar(ctx, cars);
  if (!car) {
    el.append(
      h('h1', {}, 'Trips'),
      h(
        'p',
        { class: 'empty' },
        ctx.cars.length
          ? `Your role (${ctx.cars.map((c) => `${c.role} of ${c.name}`).join(', ')}) does not ` +
              'include drives or charging sessions.'
          : 'You have no car yet.',
      ),
    );
    return undefined;
  }
  const scopes = new Set(car.scopes || []);
  const picker =
    cars.length > 1
      ? h(
          'label',
          { class: 'car-picker' },
          'Car ',
          h(
            'select',
            {
              onchange: (e) => {
                remember(e.target.value);
                ctx.navigate('#/trips');
              },
            },
            cars.map((c) =>
              h('option', { value: c.car_id, selected: c.car_id === car.car_id }, c.name),
            ),
          ),
        )
      : null;
  const drives = scopes.has('drives') ? pagedList(ctx, car, 'drive') : null;
  const charges = scopes.has('charges') ? pagedList(ctx, car, 'charge') : null;
  const section = (title, list, id) =>
    h(
      'section',
      { class: 'card trips-section', 'aria-labelledby': id },
      h('h2', { id }, title),
      list
        ? list.el
        : h('p', { class: 'muted' }, `Your role (${car.role}) does not include these.`),
    );
  el.append(
    h('div', { class: 'view-head' }, h('h1', {}, 'Trips'), picker),
    h(
      'div',
      { class: 'trips-grid', 'data-test': 'trips-list' },
      section('Drives', drives, 'drives-title'),
      section('Charging', charges, 'charges-title'),
    ),
  );
  await Promise.all([drives && drives.load(true), charges && charges.load(true)]);
  const offs = [
    drives && ctx.live.on('drive', drives.upsert),
    charges && ctx.live.on('charge', charges.upsert),
    ctx.live.on('resync', () => {
      if (drives) drives.reload();
      if (charges) charges.reload();
    }),
  ].filter(Boolean);
  return () => offs.forEach((off) => off());
}

// --- one drive or session ---------------------------------------------------------------------

/** The record from whichever of the person's cars has it (the route names no car). */
async function findRecord(ctx, kind, id) {
  const cars = tripCars(ctx);
  const first = chosenCar(ctx, cars);
  const order = first ? [first, ...cars.filter((c) => c !== first)] : cars;
  const path = kind === 'drive' ? 'drives' : 'charges';
  for (const car of order) {
    try {
      return {
        car,
        record: await ctx.api.get(`${carPath(car.car_id)}/${path}/${encodeURIComponent(id)}`),
      };
    } catch (err) {
      if (!(err instanceof ApiError) || (err.status !== 404 && err.status !== 403)) throw err;
    }
  }
  return null;
}

/** The route as an SVG polyline on a plain background: start, end, and a scale bar. */
function routeMap(lats, lons, record) {
  const byTs = new Map();
  for (const p of lats) byTs.set(p[0], [p[1], null]);
  for (const p of lons) byTs.set(p[0], [byTs.has(p[0]) ? byTs.get(p[0])[0] : null, p[1]]);
  const track = [];
  let lat = null;
  let lon = null;
  for (const t of [...byTs.keys()].sort((a, b) => a - b)) {
    const [la, lo] = byTs.get(t);
    if (la !== null) lat = la;
    if (lo !== null) lon = lo;
    if (lat !== null && lon !== null) track.push([lat, lon]);
  }
  if (track.length < 2) return null;
  const W = 600;
  const H = 320;
  const pad = 24;
  const la0 = track.reduce((s, p) => s + p[0], 0) / track.length;
  const kx = Math.cos((la0 * Math.PI) / 180); // equirectangular: shrink longitude by cos(lat)
  const xs = track.map((p) => p[1] * kx);
  const ys = track.map((p) => p[0]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const scale = Math.min(
    (W - 2 * pad) / Math.max(x1 - x0, 1e-6),
    (H - 2 * pad) / Math.max(y1 - y0, 1e-6),
  );
  const ox = (W - (x1 - x0) * scale) / 2;
  const oy = (H - (y1 - y0) * scale) / 2;
  const px = (p) => [ox + (p[1] * kx - x0) * scale, H - (oy + (p[0] - y0) * scale)];
  const pts = track
    .map((p) =>
      px(p)
        .map((v) => v.toFixed(1))
        .join(','),
    )
    .join(' ');
  const [sx, sy] = px(track[0]);
  const [ex, ey] = px(track.at(-1));
  // A scale bar of a round length about a fifth of the width (1° of latitude ≈ 111.32 km).
  const kmPerPx = 111.32 / scale;
  const target = (W / 5) * kmPerPx;
  const barKm = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500].reduce((best, s) =>
    s <= target ? s : best,
  );
  const barPx = barKm / kmPerPx;
  return svg(
    'svg',
    {
      class: 'route-map',
      viewBox: `0 0 ${W} ${H}`,
      role: 'img',
      'data-test': 'drive-route',
      'aria-label':
        `Route from ${place(record.start_place, record.start_lat, record.start_lon)} ` +
        `to ${place(record.end_place, record.end_lat, record.end_lon)}`,
    },
    svg('rect', { class: 'route-bg', x: 0, y: 0, width: W, height: H }),
    svg('polyline', { class: 'route-line', points: pts }),
    svg('circle', { class: 'route-start', cx: sx, cy: sy, r: 6 }),
    svg('circle', { class: 'route-end', cx: ex, cy: ey, r: 6 }),
    svg('text', { class: 'route-label', x: sx + 9, y: sy + 4 }, record.start_place || 'Start'),
    svg('text', { class: 'route-label', x: ex + 9, y: ey + 4 }, record.end_place || 'End'),
    svg('line', { class: 'route-scale', x1: 12, x2: 12 + barPx, y1: H - 12, y2: H - 12 }),
    svg(
      'text',
      { class: 'route-label', x: 12, y: H - 18 },
      barKm < 1 ? `${barKm * 1000} m` : `${barKm} km`,
    ),
  );
}

async function chargeSeries(ctx, car, record) {
  if (Array.isArray(record.series) && record.series.length) return record.series;
  // An older answer without series: read the session's range from the history.
  const read = (path) =>
    ctx.api
      .get(`${carPath(car.car_id)}/history`, { path, start: record.start, end: record.end })
      .then((s) => ({ path, ...s }))
      .catch(() => null);
  return (await Promise.all([read(CHARGE_POWER), read(SOC)])).filter(Boolean);
}

async function mountDetail(el, ctx, kind, id) {
  const back = h('a', { class: 'back-link', href: '#/trips' }, '← All trips');
  const found = await findRecord(ctx, kind, id);
  if (!found) {
    el.append(
      back,
      h(
        'p',
        { class: 'empty', role: 'alert' },
        `No ${kind === 'drive' ? 'drive' : 'charging session'} ${id} for you.`,
      ),
    );
    return undefined;
  }
  const { car, record: r } = found;
  const range = { start: Date.parse(r.start), end: Date.parse(r.end) };
  const series = kind === 'drive' ? r.series || [] : await chargeSeries(ctx, car, r);
  const byPath = Object.fromEntries(series.map((s) => [s.path, s]));
  const charts = [];
  const chart = (path, label, unit, test, scale = 1, digits = 0, zero = false) => {
    const { points, step } = seriesPoints(byPath[path], scale);
    const c = lineChart({ ...range, points, step, label, unit, test, digits, zero });
    charts.push(c);
    return c;
  };
  let head;
  let stats;
  let extra = null;
  if (kind === 'drive') {
    head = h(
      'div',
      { class: 'detail-head' },
      h('h1', {}, `Drive · ${fmt.time(r.start)}`),
      h(
        'p',
        { class: 'trip-places' },
        place(r.start_place, r.start_lat, r.start_lon),
        ' → ',
        place(r.end_place, r.end_lat, r.end_lon),
      ),
    );
    stats = [
      stat('Distance', km(r.distance_km)),
      stat('Duration', fmt.duration(r.duration_s)),
      stat('Energy', fmt.kwh(r.energy_used_kwh)),
      stat('Consumption', whPerKm(r.efficiency_wh_per_km)),
      stat(
        'Average speed',
        typeof r.speed_avg_kmh === 'number' ? `${fmt.num(r.speed_avg_kmh, 0)} km/h` : '—',
      ),
      stat(
        'Top speed',
        typeof r.speed_max_kmh === 'number' ? `${fmt.num(r.speed_max_kmh, 0)} km/h` : '—',
      ),
      stat('Battery', socRange(r.soc_start, r.soc_end)),
      stat('Odometer', typeof r.odometer_end_km === 'number' ? km(r.odometer_end_km) : '—'),
    ];
    const lat = seriesPoints(byPath[LAT]).points;
    const lon = seriesPoints(byPath[LON]).points;
    extra = routeMap(lat, lon, r);
    chart(SPEED, 'Speed', 'km/h', 'chart-speed', 1, 0, true);
    chart(POWER, 'Battery power', 'kW', 'chart-power', 1 / 1000, 1, true);
    chart(SOC, 'State of charge', '%', 'chart-soc', 1, 1);
  } else {
    head = h(
      'div',
      { class: 'detail-head' },
      h('h1', {}, `Charging · ${fmt.time(r.start)}`),
      h('p', { class: 'trip-places' }, place(r.place, r.lat, r.lon), r.kind ? ` · ${r.kind}` : ''),
    );
    stats = [
      stat('Energy added', fmt.kwh(r.energy_added_kwh)),
      stat('Duration', fmt.duration(r.duration_s)),
      stat('Max power', fmt.kw(r.power_max_kw)),
      stat('Battery', socRange(r.soc_start, r.soc_end)),
      stat(
        'Cost',
        typeof r.cost === 'number' ? fmt.money(r.cost, r.currency || 'EUR') : 'no tariff here',
      ),
      stat('Capacity estimate', fmt.kwh(r.capacity_estimate_kwh)),
    ];
    chart(CHARGE_POWER, 'Charging power', 'kW', 'chart-power', 1, 1, true);
    chart(SOC, 'State of charge', '%', 'chart-soc', 1, 1);
  }
  el.append(
    h(
      'article',
      { class: 'trip-detail', 'data-test': kind === 'drive' ? 'drive-detail' : 'charge-detail' },
      back,
      head,
      h(
        'div',
        { class: `trip-top${extra ? ' with-route' : ''}` },
        h('dl', { class: 'card facts' }, stats),
        extra ? h('section', { class: 'card route-card', 'aria-label': 'Route' }, extra) : null,
      ),
      h(
        'section',
        { class: 'charts', 'aria-label': 'Charts' },
        charts.map((c) => h('div', { class: 'card' }, c)),
      ),
    ),
  );
  return () => charts.forEach((c) => c.dispose());
}

export async function mount(el, ctx, params) {
  const [kind, id] = params || [];
  if ((kind === 'drive' || kind === 'charge') && id) return mountDetail(el, ctx, kind, id);
  return mountLists(el, ctx);
}
