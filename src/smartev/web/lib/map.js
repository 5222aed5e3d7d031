// A map without tiles (no internet needed): an SVG on a plain background with the household's
// places (geofences as circles with their names), the last drive's route, the current drive's
// track, the car's marker with its heading, and a scale bar. An equirectangular projection
// around the points is exact enough at city scale. The view fits the points and moves only when
// the car would leave it, so the map does not jump with every position.

import { svg } from './dom.js';

const PAD = 48;
const EARTH_M = 6_371_008.8;
const MIN_SPAN_M = 600; // a lone point still shows its neighbourhood
const RAD = Math.PI / 180;

function validPoint(p) {
  return p && Number.isFinite(p.lat) && Number.isFinite(p.lon);
}

/** The longest "nice" distance (1, 2, 5 × 10^n m) at most ``maxM``. */
function niceDistance(maxM) {
  const exp = 10 ** Math.floor(Math.log10(maxM));
  for (const f of [5, 2, 1]) if (f * exp <= maxM) return f * exp;
  return exp;
}

function distanceLabel(m) {
  return m >= 1000 ? `${m / 1000} km` : `${m} m`;
}

export function createMap({ label = 'Map of the car and its places' } = {}) {
  // The drawing's units are the element's CSS pixels (kept in step by a ResizeObserver), so
  // labels and the scale bar read the same at any size.
  let W = 800;
  let H = 600;
  const el = svg('svg', {
    class: 'map',
    viewBox: `0 0 ${W} ${H}`,
    preserveAspectRatio: 'xMidYMid meet',
    role: 'img',
    'aria-label': label,
    'data-test': 'car-map',
  });
  let places = [];
  let route = [];
  let track = [];
  let car = null;
  let view = null; // {lat0, lon0, cos0, scale (px per m), cx, cy (m)}

  function project(p) {
    const x = (p.lon - view.lon0) * RAD * EARTH_M * view.cos0;
    const y = (p.lat - view.lat0) * RAD * EARTH_M;
    return [W / 2 + (x - view.cx) * view.scale, H / 2 - (y - view.cy) * view.scale];
  }

  // The box (in metres around lat0/lon0) that must be visible.
  function wantedBox(lat0, lon0, cos0) {
    const box = { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity };
    const add = (p, r = 0) => {
      const x = (p.lon - lon0) * RAD * EARTH_M * cos0;
      const y = (p.lat - lat0) * RAD * EARTH_M;
      box.x0 = Math.min(box.x0, x - r);
      box.x1 = Math.max(box.x1, x + r);
      box.y0 = Math.min(box.y0, y - r);
      box.y1 = Math.max(box.y1, y + r);
    };
    for (const p of places) add(p, p.radius_m || 0);
    for (const p of route) add(p);
    for (const p of track) add(p);
    if (car) add(car);
    return box;
  }

  function allPoints() {
    return [...places, ...route, ...track, ...(car ? [car] : [])];
  }

  function fit() {
    const points = allPoints();
    if (!points.length) {
      view = null;
      return;
    }
    const lats = points.map((p) => p.lat);
    const lons = points.map((p) => p.lon);
    const lat0 = (Math.min(...lats) + Math.max(...lats)) / 2;
    const lon0 = (Math.min(...lons) + Math.max(...lons)) / 2;
    const cos0 = Math.cos(lat0 * RAD);
    const box = wantedBox(lat0, lon0, cos0);
    const spanX = Math.max(box.x1 - box.x0, MIN_SPAN_M);
    const spanY = Math.max(box.y1 - box.y0, MIN_SPAN_M);
    const scale = Math.min((W - 2 * PAD) / spanX, (H - 2 * PAD) / spanY);
    view = { lat0, lon0, cos0, scale, cx: (box.x0 + box.x1) / 2, cy: (box.y0 + box.y1) / 2 };
  }

  // Keep the view while everything that matters is inside it; refit when the car (or the new
  // data) would fall outside the padded frame.
  function needsFit() {
    if (!view) return true;
    const inside = (p) => {
      const [x, y] = project(p);
      return x >= PAD / 2 && x <= W - PAD / 2 && y >= PAD / 2 && y <= H - PAD / 2;
    };
    if (car && !inside(car)) return true;
    return route.some((p) => !inside(p));
  }

  function drawGrid(children) {
    const stepM = niceDistance(W / 6 / view.scale);
    const stepPx = stepM * view.scale;
    const offX = (((W / 2 - view.cx * view.scale) % stepPx) + stepPx) % stepPx;
    const offY = (((H / 2 + view.cy * view.scale) % stepPx) + stepPx) % stepPx;
    for (let x = offX; x < W; x += stepPx) {
      children.push(svg('line', { class: 'grid-line', x1: x, y1: 0, x2: x, y2: H }));
    }
    for (let y = offY; y < H; y += stepPx) {
      children.push(svg('line', { class: 'grid-line', x1: 0, y1: y, x2: W, y2: y }));
    }
  }

  function polyline(points, cls, test) {
    if (points.length < 2) return null;
    const d = points.map((p) => project(p).map((v) => v.toFixed(1)).join(',')).join(' ');
    return svg('polyline', { class: cls, points: d, 'data-test': test });
  }

  function scaleBar() {
    const meters = niceDistance((W / 4) / view.scale);
    const px = meters * view.scale;
    const x = 20;
    const y = H - 22;
    return svg(
      'g',
      { class: 'scale', 'data-test': 'map-scale' },
      svg('line', { x1: x, y1: y, x2: x + px, y2: y }),
      svg('line', { x1: x, y1: y - 5, x2: x, y2: y + 5 }),
      svg('line', { x1: x + px, y1: y - 5, x2: x + px, y2: y + 5 }),
      svg('text', { x: x + px / 2, y: y - 8, 'text-anchor': 'middle' }, distanceLabel(meters)),
    );
  }

  function marker() {
    const [x, y] = project(car);
    const children = [svg('circle', { class: 'car-dot', r: 13 })];
    if (Number.isFinite(car.heading)) {
      // VSS heading: degrees clockwise from north, which is up here.
      children.push(
        svg('path', {
          class: 'car-arrow',
          d: 'M0 -8 L6 6 L0 3 L-6 6 Z',
          transform: `rotate(${car.heading.toFixed(1)})`,
        }),
      );
    }
    return svg(
      'g',
      {
        class: 'car-marker',
        'data-test': 'car-position',
        'data-lat': car.lat,
        'data-lon': car.lon,
        transform: `translate(${x.toFixed(1)} ${y.toFixed(1)})`,
      },
      svg('title', {}, 'The car'),
      ...children,
    );
  }

  function render() {
    if (needsFit()) fit();
    if (!view) {
      el.replaceChildren(
        svg('text', { class: 'no-position', x: W / 2, y: H / 2, 'text-anchor': 'middle' },
          'No position known yet'),
      );
      return;
    }
    const children = [];
    drawGrid(children);
    for (const p of places) {
      const [x, y] = project(p);
      const r = Math.max(6, (p.radius_m || 0) * view.scale);
      children.push(
        svg(
          'g',
          { class: 'place-group', 'data-test': 'map-place' },
          svg('circle', { class: 'place', cx: x, cy: y, r }),
          svg('text', { class: 'place-label', x, y: y - r - 6, 'text-anchor': 'middle' }, p.name),
        ),
      );
    }
    children.push(polyline(route, 'route', 'map-route'));
    children.push(polyline(track, 'track', 'map-track'));
    if (car) children.push(marker());
    children.push(scaleBar());
    el.replaceChildren(...children.filter(Boolean));
  }

  render();
  if (window.ResizeObserver) {
    new ResizeObserver(([entry]) => {
      const { width, height } = entry.contentRect;
      if (width < 10 || height < 10 || (Math.abs(width - W) < 1 && Math.abs(height - H) < 1)) {
        return;
      }
      W = Math.round(width);
      H = Math.round(height);
      el.setAttribute('viewBox', `0 0 ${W} ${H}`);
      view = null; // fit the new frame
      render();
    }).observe(el);
  }
  return {
    el,
    /** Geofences: [{name, lat, lon, radius_m}]. */
    setPlaces(list) {
      places = (list || []).filter(validPoint);
      view = null;
      render();
    },
    /** The last drive's positions: [{lat, lon}]. */
    setRoute(points) {
      route = (points || []).filter(validPoint);
      view = null;
      render();
    },
    /** The current drive's positions so far. */
    setTrack(points) {
      track = (points || []).filter(validPoint);
      render();
    },
    addTrackPoint(p) {
      if (!validPoint(p)) return;
      const last = track[track.length - 1];
      if (last && last.lat === p.lat && last.lon === p.lon) return;
      track.push({ lat: p.lat, lon: p.lon });
      render();
    },
    /** The car: {lat, lon, heading?}, or null when unknown. */
    setCar(position) {
      car = validPoint(position) ? position : null;
      render();
    },
    get trackLength() {
      return track.length;
    },
  };
}
