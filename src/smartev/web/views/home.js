// The home (#/home): every device of the household grouped by kind, with its state in words and
// units and, for the owner and the drivers, its controls (actions and writable properties);
// then the scenes with an Activate button showing what each value did. Values change in place
// from the live socket (`device`, `device_online`), so a garage door is seen opening.

import { h, replace } from '../lib/dom.js';
import { ApiError } from '../lib/api.js';
import { KINDS, GROUPS, genericKind } from './home-kinds.js';
import { sceneEditor, sceneRow } from './home-scenes.js';

// --- what went wrong, in words ----------------------------------------------------------------

function failure(err, name) {
  if (!(err instanceof ApiError)) return `${name}: ${err.message || err}`;
  const detail = err.message || '';
  if (err.status === 409 && /^offline/i.test(detail))
    return `${name} is offline: try again when it is back.`;
  if (err.status === 409) return `${name} refused: ${detail.replace(/^refused:\s*/i, '')}`;
  if (err.status === 504) return `${name} did not answer in time.`;
  if (err.status === 422) return `${name} did not accept that: ${detail}`;
  return detail;
}

// --- one device ---------------------------------------------------------------------------------

/** A device card: its state line and controls, updated in place by ``update()``. */
function deviceCard(ctx, device) {
  const kind = KINDS[device.kind] || genericKind;
  const base = `/households/${encodeURIComponent(ctx.household.id)}/devices/${encodeURIComponent(device.id)}`;
  const state = h('p', {
    class: 'device-state',
    'data-test': 'device-state',
    'aria-live': 'polite',
  });
  const error = h('p', { class: 'device-error error-text', role: 'alert' });
  const badge = h('span', { class: 'badge badge-warn' }, 'offline');
  const card = h('section', {
    class: `card device-card kind-${device.kind}`,
    'data-test': 'device-card',
    'data-device': device.id,
    'aria-label': device.name,
  });
  let busy = 0;
  let controls = null;

  async function run(request) {
    busy += 1;
    error.textContent = '';
    refresh();
    try {
      await request();
      // The live socket brings the new values; reading once more covers a socket that is down.
      const fresh = await ctx.api.get(base);
      Object.assign(device.values, fresh.values);
      device.online = fresh.online;
    } catch (err) {
      const text = failure(err, device.name);
      error.textContent = text;
      ctx.toast(text, 'error');
    } finally {
      busy -= 1;
      refresh();
    }
  }

  const act = {
    /** Call an action: POST …/actions/{ref} {data}. */
    action: (ref, data = {}) =>
      run(() => ctx.api.post(`${base}/actions/${encodeURIComponent(ref)}`, { data })),
    /** Write a property: PUT …/properties/{ref} {value}. */
    write: (ref, value) =>
      run(() => ctx.api.put(`${base}/properties/${encodeURIComponent(ref)}`, { value })),
  };

  if (ctx.canControlHome && kind.controls) controls = kind.controls(act, device);
  card.append(h('div', { class: 'device-head' }, h('h3', {}, device.name), badge), state);
  if (controls) card.append(h('div', { class: 'device-controls' }, controls.els));
  card.append(error);

  function refresh() {
    const values = device.values;
    card.classList.toggle('offline', !device.online);
    card.setAttribute('aria-busy', String(busy > 0));
    badge.hidden = device.online;
    replace(state, ...[].concat(kind.state(values, device)));
    // Only an offline device disables its controls: disabling the one in use would drop focus.
    if (controls) controls.update(values, { disabled: !device.online });
  }

  refresh();
  return {
    el: card,
    device,
    refresh,
    /** Changes from the live socket: [{ref, value, ts}]. */
    apply(changes) {
      for (const c of changes) device.values[c.ref] = c.value;
      refresh();
    },
    setOnline(online) {
      device.online = online;
      refresh();
    },
  };
}

// --- the screen ---------------------------------------------------------------------------------

function groupsOf(devices) {
  const byGroup = new Map(GROUPS.map((g) => [g.title, []]));
  for (const d of devices) {
    const group = GROUPS.find((g) => g.kinds.includes(d.kind)) || GROUPS.at(-1);
    byGroup.get(group.title).push(d);
  }
  return [...byGroup.entries()].filter(([, list]) => list.length);
}

export async function mount(el, ctx) {
  if (!ctx.household) {
    el.append(h('h1', {}, 'Home'), h('p', { class: 'empty' }, 'You are in no household.'));
    return undefined;
  }
  const hh = encodeURIComponent(ctx.household.id);
  const devicesEl = h('div', { class: 'home-devices', 'data-test': 'home-devices' });
  const scenesEl = h('ul', { class: 'scene-list' });
  const newScene = h('div', { class: 'scene-edit' });
  const cards = new Map();
  el.append(
    h(
      'div',
      { class: 'view-head' },
      h('h1', {}, 'Home'),
      ctx.canControlHome
        ? null
        : h('p', { class: 'muted' }, 'You can see the home; the owner and drivers control it.'),
    ),
    devicesEl,
    h(
      'section',
      { class: 'card scenes', 'aria-labelledby': 'scenes-title' },
      h(
        'div',
        { class: 'card-head' },
        h('h2', { id: 'scenes-title' }, 'Scenes'),
        ctx.isOwner
          ? h(
              'button',
              {
                type: 'button',
                class: 'btn btn-small',
                'data-test': 'scene-new',
                onclick: () =>
                  replace(
                    newScene,
                    sceneEditor(ctx, null, sceneTemplate(), (changed) => {
                      replace(newScene);
                      if (changed) loadScenes().catch(() => {});
                    }),
                  ),
              },
              'New scene',
            )
          : null,
      ),
      newScene,
      scenesEl,
    ),
  );

  /** A starting text that fits this home: its lights, if it has any. */
  function sceneTemplate() {
    const lights = [...cards.values()].filter((c) => c.device.kind === 'light');
    const lines = ['name: evening', 'description: Soft light for the evening.', 'entities:'];
    for (const c of lights.slice(0, 2)) {
      lines.push(`  ${c.device.id}:`, '    light.on: true', '    light.brightness: 40');
    }
    if (!lights.length) lines.push('  # <device id>:', '  #   <service>.<property>: <value>');
    return `${lines.join('\n')}\n`;
  }

  function renderDevices(devices) {
    cards.clear();
    const sections = groupsOf(devices.filter((d) => d.kind !== 'car')).map(([title, list]) =>
      h(
        'section',
        { class: 'device-group', 'aria-label': title },
        h('h2', {}, title),
        h(
          'div',
          { class: 'grid device-grid' },
          list.map((d) => {
            const card = deviceCard(ctx, d);
            cards.set(d.id, card);
            return card.el;
          }),
        ),
      ),
    );
    const cars = devices.filter((d) => d.kind === 'car');
    if (cars.length) {
      sections.push(
        h(
          'p',
          { class: 'muted car-note' },
          `${cars.map((c) => c.name).join(', ')}: state and controls on the `,
          h('a', { href: '#/car' }, 'Car screen'),
          '.',
        ),
      );
    }
    replace(devicesEl, ...sections);
    if (!sections.length)
      devicesEl.append(h('p', { class: 'empty' }, 'No devices in this home yet.'));
  }

  async function loadDevices() {
    const devices = await ctx.api.get(`/households/${hh}/devices`);
    const same = devices.length === cards.size && devices.every((d) => cards.has(d.id));
    if (!same) {
      renderDevices(devices);
      return;
    }
    for (const d of devices) {
      // In place: a control being used keeps its focus.
      const card = cards.get(d.id);
      card.device.values = { ...d.values };
      card.setOnline(d.online);
    }
  }

  async function loadScenes() {
    const scenes = await ctx.api.get(`/households/${hh}/scenes`);
    replace(scenesEl, ...scenes.map((s) => sceneRow(ctx, s, () => loadScenes().catch(() => {}))));
    if (!scenes.length) scenesEl.append(h('li', { class: 'empty' }, 'No scenes.'));
  }

  await Promise.all([
    loadDevices().catch((err) =>
      replace(devicesEl, h('p', { class: 'alert' }, `Could not load the devices: ${err.message}`)),
    ),
    loadScenes().catch((err) =>
      replace(scenesEl, h('li', { class: 'alert' }, `Could not load the scenes: ${err.message}`)),
    ),
  ]);

  const mine = (m) => m.household_id === ctx.household.id;
  const offs = [
    ctx.live.on('device', (m) => {
      if (mine(m) && cards.has(m.device_id)) cards.get(m.device_id).apply(m.changes || []);
    }),
    ctx.live.on('device_online', (m) => {
      if (mine(m) && cards.has(m.device_id)) cards.get(m.device_id).setOnline(m.online);
    }),
    ctx.live.on('resync', () => {
      loadDevices().catch(() => {});
      // Not while the owner edits one: reading them again would throw the edit away.
      if (!el.querySelector('.scene-editor')) loadScenes().catch(() => {});
    }),
  ];
  return () => offs.forEach((off) => off());
}
