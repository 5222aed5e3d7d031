// The app's shell: boot (resume a stored login or show the login), load who the person is and
// what they may see (me, households, cars), route #/… to the view modules, and keep the chrome
// (navigation, live status badge, toasts) in step. Views get one `ctx` (see the module contract
// in each view) and render into an element the shell owns.

import { createApi } from './lib/api.js';
import { createCommands } from './lib/commands.js';
import { h, replace } from './lib/dom.js';
import { createLive } from './lib/live.js';

const ROUTES = {
  login: { title: 'Log in', load: () => import('./views/login.js') },
  car: { title: 'Car', load: () => import('./views/car.js') },
  trips: { title: 'Trips', load: () => import('./views/trips.js') },
  home: { title: 'Home', load: () => import('./views/home.js') },
  automations: { title: 'Automations', load: () => import('./views/automations.js') },
  household: { title: 'Household', load: () => import('./views/household.js') },
};
const DEFAULT_ROUTE = 'car';
const HOUSEHOLD_KEY = 'smartev.household';
const CAR_KEY = 'smartev.car';
// Answers fetched ahead during boot wait this long for the view that asks for them.
const WARM_KEEP_MS = 10_000;
const EXPIRED = 'Your session has expired. Please log in again.';

const $ = (selector) => document.querySelector(selector);

let session = null; // the signed-in ctx, or null
let loginMessage = '';
let current = { seq: 0, unmount: null };

const api = createApi({ onSessionExpired: () => sessionEnded(EXPIRED) });
const live = createLive(api);

// --- answers fetched ahead -----------------------------------------------------------------------
// The car screen is the first paint: at boot its state is requested together with who the person
// is (for the car shown last time), instead of one round trip after another. A view's first
// ctx.api.get of the same path takes the answer.

const warm = new Map();

function warmGet(path) {
  if (warm.has(path)) return;
  const answer = api.get(path);
  answer.catch(() => {}); // a failure is the view's to report, when it asks
  warm.set(path, answer);
  setTimeout(() => warm.delete(path), WARM_KEEP_MS);
}

const viewApi = {
  ...api,
  get(path, params) {
    if (!params && warm.has(path)) {
      const answer = warm.get(path);
      warm.delete(path);
      return answer;
    }
    return api.get(path, params);
  },
};

function stored(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function store(key, value) {
  try {
    if (value) localStorage.setItem(key, value);
    else localStorage.removeItem(key);
  } catch {
    // storage disabled: nothing is remembered
  }
}

const carPath = (carId) => `/cars/${encodeURIComponent(carId)}`;
const householdPath = (id) => `/households/${encodeURIComponent(id)}`;

// --- toasts ------------------------------------------------------------------------------------

function toast(text, kind = 'info') {
  const item = h(
    'div',
    { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    h('span', { class: 'toast-text' }, text),
    h(
      'button',
      {
        class: 'toast-close',
        type: 'button',
        'aria-label': 'Dismiss',
        onclick: () => item.remove(),
      },
      '×',
    ),
  );
  $('#toasts').appendChild(item);
  setTimeout(() => item.remove(), kind === 'error' ? 8000 : 4000);
}

// --- the signed-in context ---------------------------------------------------------------------

function pickHousehold(me, cars, wanted) {
  const ids = new Set(me.households.map((m) => m.id));
  if (wanted && ids.has(wanted)) return wanted;
  // Where the person's first car is (a guest's car is in someone else's household), else their own.
  const withCar = cars.find((c) => ids.has(c.household_id));
  if (withCar) return withCar.household_id;
  const owned = me.households.find((m) => m.role === 'owner');
  return (owned || me.households[0] || {}).id || null;
}

async function loadSession(householdId = null) {
  // The household and car of last time, fetched alongside me and the cars (checked after).
  const wanted = householdId || stored(HOUSEHOLD_KEY);
  const lastCar = stored(CAR_KEY);
  if (wanted) warmGet(householdPath(wanted));
  if (lastCar && ['', 'car'].includes(parseHash().name)) {
    warmGet(`${carPath(lastCar)}/state`);
  }
  const [me, cars] = await Promise.all([api.get('/auth/me'), api.get('/cars')]);
  const id = pickHousehold(me, cars, wanted);
  const household = id ? await viewApi.get(householdPath(id)) : null;
  const inHousehold = cars.filter((c) => household && c.household_id === household.id);
  const car = inHousehold[0] || cars[0] || null;
  store(HOUSEHOLD_KEY, household && household.id);
  store(CAR_KEY, car && car.car_id);
  const isOwner = Boolean(household && household.role === 'owner');
  const ctx = {
    api: viewApi,
    live,
    me,
    households: me.households,
    household,
    cars,
    car,
    isOwner,
    // Mirrors the cloud's rule: the owner, or a driver (valid now) of one of its cars.
    canControlHome: isOwner || inHousehold.some((c) => c.role === 'driver'),
    roleFor: (carId) => (cars.find((c) => c.car_id === carId) || {}).role || null,
    navigate,
    toast,
    switchHousehold,
  };
  ctx.commands = session && session.me.id === me.id ? session.commands : createCommands(ctx);
  ctx.commands.bind(ctx);
  return ctx;
}

async function startSession() {
  session = await loadSession();
  loginMessage = '';
  showChrome();
  live.start();
}

function endSession() {
  if (session) session.commands.stop();
  session = null;
  live.stop();
  unmountCurrent();
  showChrome();
}

function sessionEnded(message) {
  if (!session && location.hash.startsWith('#/login')) {
    loginMessage = message;
    route();
    return;
  }
  endSession();
  loginMessage = message;
  if (location.hash !== '#/login') location.hash = '#/login';
  else route();
}

async function switchHousehold(householdId) {
  try {
    session = await loadSession(householdId);
  } catch (err) {
    toast(err.message, 'error');
    return;
  }
  showChrome();
  route();
}

async function logout() {
  endSession();
  store(HOUSEHOLD_KEY, null);
  store(CAR_KEY, null);
  await api.logout();
  loginMessage = '';
  location.hash = '#/login';
}

// --- chrome ------------------------------------------------------------------------------------

function showChrome() {
  const signedIn = Boolean(session);
  document.body.classList.toggle('signed-in', signedIn);
  $('#topbar').hidden = !signedIn;
  $('#nav').hidden = !signedIn;
  const picker = $('#household');
  if (!signedIn || session.households.length < 2) {
    picker.hidden = true;
    return;
  }
  picker.hidden = false;
  replace(
    picker,
    ...session.households.map((m) =>
      h(
        'option',
        { value: m.id, selected: session.household && m.id === session.household.id },
        m.name,
      ),
    ),
  );
}

function markNav(name) {
  for (const link of document.querySelectorAll('#nav [data-route]')) {
    if (link.dataset.route === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function setBadge({ connected }) {
  const badge = $('#connection');
  badge.textContent = connected ? 'live' : 'reconnecting…';
  badge.dataset.state = connected ? 'live' : 'reconnecting';
}

// --- routing -----------------------------------------------------------------------------------

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function parseHash() {
  const path = location.hash.replace(/^#\/?/, '');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || '', params: parts.slice(1) };
}

function unmountCurrent() {
  current.seq += 1;
  const unmount = current.unmount;
  current.unmount = null;
  if (typeof unmount === 'function') {
    try {
      unmount();
    } catch (err) {
      console.error('unmount failed', err);
    }
  }
  replace($('#view'));
}

async function route() {
  let { name, params } = parseHash();
  if (!session && name !== 'login') {
    location.replace('#/login');
    return;
  }
  if (session && (name === 'login' || !(name in ROUTES))) {
    location.replace(`#/${DEFAULT_ROUTE}`);
    return;
  }
  unmountCurrent();
  const seq = current.seq;
  const entry = ROUTES[name];
  document.title = `${entry.title} · smartev`;
  markNav(name);
  const el = h('div', { class: `view view-${name}` });
  $('#view').appendChild(el);
  let module;
  try {
    module = await entry.load();
  } catch (err) {
    console.error(err);
    if (seq === current.seq) {
      el.appendChild(h('p', { class: 'empty' }, `The ${entry.title} screen could not be loaded.`));
    }
    return;
  }
  if (seq !== current.seq) return;
  const ctx = session || { api: viewApi, navigate, toast, login, message: loginMessage };
  try {
    const unmount = await module.mount(el, ctx, params);
    if (seq === current.seq) current.unmount = unmount;
    else if (typeof unmount === 'function') unmount(); // navigated away while it mounted
  } catch (err) {
    console.error(err);
    if (seq === current.seq) {
      el.appendChild(h('p', { class: 'empty', role: 'alert' }, err.message || String(err)));
    }
  }
}

/** Used by the login view: log in, load the session, go to the car. */
async function login(email, password) {
  await api.login(email, password);
  await startSession();
  location.hash = `#/${DEFAULT_ROUTE}`;
}

// --- boot --------------------------------------------------------------------------------------

function bootFailed(err) {
  replace(
    $('#view'),
    h(
      'div',
      { class: 'card boot-error', role: 'alert' },
      h('p', {}, err.message || String(err)),
      h('button', { class: 'btn', type: 'button', onclick: () => location.reload() }, 'Try again'),
    ),
  );
}

async function boot() {
  performance.mark('app-boot'); // with 'car-ready': where the first paint's time goes
  live.on('connection', setBadge);
  $('#logout').addEventListener('click', logout);
  $('#household').addEventListener('change', (e) => switchHousehold(e.target.value));
  window.addEventListener('hashchange', route);
  if (api.hasSession()) {
    // Fetch the first screen's code while the login is renewed.
    const first = parseHash().name || DEFAULT_ROUTE;
    if (first in ROUTES && first !== 'login') ROUTES[first].load().catch(() => {});
    try {
      await api.refresh();
      await startSession();
    } catch (err) {
      if (err.status !== 401) {
        bootFailed(err);
        return;
      }
      // refused: onSessionExpired has set the message; the login follows
    }
  }
  showChrome();
  route();
}

boot();
