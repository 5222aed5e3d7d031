// The home's device kinds as the home screen shows them (views/home.js): for each shipped kind
// (light, thermostat, garage door, lock, plug, wallbox, solar, battery, presence, grid meter,
// phone) its state in words and units, and its controls for the actions and writable properties.

import { h, fmt } from '../lib/dom.js';

// Each kind says how its values read (``state(values)`` → text or nodes) and which controls it
// has (``controls(act, device)`` → {els, update(values, {disabled})}). ``act.action(ref, data)``
// calls an action, ``act.write(ref, value)`` writes a property.

const NBSP = '\u00a0';
const watts = (x) =>
  typeof x !== 'number' ? '—' : Math.abs(x) < 1000 ? `${fmt.num(x, 0)}${NBSP}W` : fmt.kw(x / 1000);
let uid = 0;
const nextId = (prefix) => `${prefix}-${(uid += 1)}`;

function button(text, action, onclick, cls = '') {
  return h(
    'button',
    {
      class: `btn btn-small ${cls}`,
      type: 'button',
      'data-test': 'device-control',
      'data-action': action,
      onclick,
    },
    text,
  );
}

/** Set a control's value unless the person is using it right now. */
function show(input, value) {
  if (value !== undefined && value !== null && document.activeElement !== input)
    input.value = String(value);
}

function choice(label, property, options, onchange) {
  const id = nextId('ctl');
  const select = h(
    'select',
    {
      id,
      'data-test': 'device-control',
      'data-property': property,
      onchange: (e) => onchange(e.target.value),
    },
    options.map(([value, text]) => h('option', { value }, text)),
  );
  return {
    el: h(
      'div',
      { class: 'control-field' },
      h('label', { for: id, class: 'label' }, label),
      select,
    ),
    select,
  };
}

function disable(disabled, ...els) {
  for (const el of els) el.disabled = disabled;
}

const DOOR_WORDS = {
  open: 'Open',
  opening: 'Opening…',
  closed: 'Closed',
  closing: 'Closing…',
  stopped: 'Stopped',
};
const WALLBOX_WORDS = {
  available: 'Free: no car plugged in',
  connected: 'Car plugged in, not charging',
  charging: 'Charging',
  suspended_ev: 'Paused by the car',
  suspended_evse: 'Paused by the charger',
  finished: 'Finished',
  fault: 'Fault',
};

export const KINDS = {
  light: {
    state: (v) => (v['light.on'] ? `On · ${fmt.percent(v['light.brightness'])}` : 'Off'),
    controls(act, device) {
      const toggle = button('', 'light.toggle', () =>
        act.action(device.values['light.on'] ? 'light.turn_off' : 'light.turn_on'),
      );
      const id = nextId('ctl');
      const range = h('input', {
        id,
        type: 'range',
        min: 0,
        max: 100,
        step: 1,
        'data-test': 'device-control',
        'data-property': 'light.brightness',
        onchange: (e) => act.write('light.brightness', Number(e.target.value)),
      });
      return {
        els: [
          toggle,
          h(
            'div',
            { class: 'control-field' },
            h('label', { for: id, class: 'label' }, 'Brightness'),
            range,
          ),
        ],
        update(v, { disabled }) {
          toggle.textContent = v['light.on'] ? 'Turn off' : 'Turn on';
          toggle.setAttribute('aria-pressed', String(Boolean(v['light.on'])));
          show(range, v['light.brightness']);
          disable(disabled, toggle, range);
        },
      };
    },
  },
  thermostat: {
    state(v) {
      const room = `${fmt.celsius(v['thermostat.current_temperature'])} in the room`;
      const target = fmt.celsius(v['thermostat.target_temperature']);
      if (v['thermostat.mode'] === 'off') return `${room} · off`;
      const doing = { heating: `heating to ${target}`, cooling: `cooling to ${target}` }[
        v['thermostat.action']
      ];
      return `${room} · ${doing || `holding ${target}`} (${v['thermostat.mode'] || '—'})`;
    },
    controls(act, device) {
      const REF = 'thermostat.target_temperature';
      const shown = h('output', { class: 'setpoint', 'aria-live': 'polite' });
      const nudge = (delta) => {
        const now = Number(device.values[REF]);
        const next = Math.min(
          35,
          Math.max(5, Math.round(((Number.isFinite(now) ? now : 21) + delta) * 2) / 2),
        );
        shown.textContent = fmt.celsius(next);
        act.write(REF, next);
      };
      const down = button('−', REF, () => nudge(-0.5));
      const up = button('+', REF, () => nudge(0.5));
      down.setAttribute('aria-label', 'Lower the target temperature');
      up.setAttribute('aria-label', 'Raise the target temperature');
      const mode = choice(
        'Mode',
        'thermostat.mode',
        [
          ['off', 'Off'],
          ['heat', 'Heat'],
          ['cool', 'Cool'],
          ['auto', 'Auto'],
        ],
        (value) => act.write('thermostat.mode', value),
      );
      return {
        els: [
          h(
            'div',
            { class: 'stepper', role: 'group', 'aria-label': 'Target temperature' },
            down,
            shown,
            up,
          ),
          mode.el,
        ],
        update(v, { disabled }) {
          shown.textContent = fmt.celsius(v[REF]);
          show(mode.select, v['thermostat.mode']);
          disable(disabled, down, up, mode.select);
        },
      };
    },
  },
  garage_door: {
    state(v) {
      const s = v['door.state'];
      const pos = v['door.position'];
      const words = DOOR_WORDS[s] || s || '—';
      const bar = h('progress', {
        class: 'door-bar',
        max: 100,
        value: typeof pos === 'number' ? pos : 0,
        'aria-label': 'How far open',
      });
      return [s === 'open' || s === 'closed' ? words : `${words} ${fmt.percent(pos)} open`, bar];
    },
    controls(act) {
      const open = button('Open', 'door.open', () => act.action('door.open'));
      const stop = button('Stop', 'door.stop', () => act.action('door.stop'));
      const close = button('Close', 'door.close', () => act.action('door.close'));
      return {
        els: [open, stop, close],
        update(v, { disabled }) {
          const s = v['door.state'];
          disable(disabled, open, stop, close);
          if (!disabled) {
            open.disabled = s === 'open' || s === 'opening';
            close.disabled = s === 'closed' || s === 'closing';
            stop.disabled = !(s === 'opening' || s === 'closing');
          }
        },
      };
    },
  },
  door_lock: {
    state: (v) =>
      ({ locked: 'Locked', unlocked: 'Unlocked', jammed: 'Jammed: the bolt is stuck' })[
        v['lock.state']
      ] || (v['lock.locked'] ? 'Locked' : 'Unlocked'),
    controls(act, device) {
      const b = button('', 'lock.toggle', () =>
        act.action(device.values['lock.locked'] ? 'lock.unlock' : 'lock.lock'),
      );
      return {
        els: [b],
        update(v, { disabled }) {
          b.textContent = v['lock.locked'] ? 'Unlock' : 'Lock';
          b.disabled = disabled;
        },
      };
    },
  },
  smart_plug: {
    state: (v) =>
      `${v['switch.on'] ? `On · ${watts(v['meter.power'])}` : 'Off'} · ${fmt.kwh(v['meter.energy'])} in all`,
    controls(act, device) {
      const b = button('', 'switch.toggle', () =>
        act.action(device.values['switch.on'] ? 'switch.turn_off' : 'switch.turn_on'),
      );
      return {
        els: [b],
        update(v, { disabled }) {
          b.textContent = v['switch.on'] ? 'Turn off' : 'Turn on';
          b.setAttribute('aria-pressed', String(Boolean(v['switch.on'])));
          b.disabled = disabled;
        },
      };
    },
  },
  wallbox: {
    state(v) {
      const s = v['charger.state'];
      const words =
        s === 'charging'
          ? `Charging at ${watts(v['charger.power'])}`
          : WALLBOX_WORDS[s] || s || '—';
      const parts = [
        words,
        `${fmt.kwh(v['charger.session_energy'])} this session`,
        `limit ${fmt.num(v['charger.current_limit'], 0)}${NBSP}A`,
      ];
      if (v['charger.enabled'] === false) parts.push('disabled');
      return parts.join(' · ');
    },
    controls(act) {
      const start = button(
        'Start',
        'charger.start',
        () => act.action('charger.start'),
        'btn-primary',
      );
      const stop = button('Stop', 'charger.stop', () => act.action('charger.stop'));
      const amps = [];
      for (let a = 6; a <= 32; a += 1) amps.push([String(a), `${a} A`]);
      const limit = choice('Current limit', 'charger.current_limit', amps, (value) =>
        act.action('charger.set_current_limit', { current_a: Number(value) }),
      );
      return {
        els: [start, stop, limit.el],
        update(v, { disabled }) {
          show(
            limit.select,
            typeof v['charger.current_limit'] === 'number'
              ? Math.round(v['charger.current_limit'])
              : null,
          );
          disable(disabled, start, stop, limit.select);
        },
      };
    },
  },
  solar_inverter: {
    state: (v) =>
      `Producing ${watts(v['inverter.power'])} · ${fmt.kwh(v['inverter.energy_today'])} today`,
  },
  home_battery: {
    state(v) {
      const p = v['battery.power'];
      const flow =
        typeof p !== 'number' || Math.abs(p) < 1
          ? 'idle'
          : p > 0
            ? `charging at ${watts(p)}`
            : `discharging at ${watts(-p)}`;
      return `${fmt.percent(v['battery.soc'])} · ${flow} · mode ${v['battery.mode'] || '—'}`;
    },
    controls(act) {
      const mode = choice(
        'Mode',
        'battery.mode',
        [
          ['auto', 'Auto (use the sun)'],
          ['hold', 'Hold the charge'],
          ['charge', 'Charge up'],
        ],
        (value) => act.write('battery.mode', value),
      );
      return {
        els: [mode.el],
        update(v, { disabled }) {
          show(mode.select, v['battery.mode']);
          mode.select.disabled = disabled;
        },
      };
    },
  },
  presence_sensor: {
    state: (v) =>
      `${v['presence.occupied'] ? 'Someone is here' : 'Nobody here'} · ${fmt.num(v['presence.illuminance'], 0)}${NBSP}lx`,
  },
  energy_meter: {
    state(v) {
      const p = v['grid.power'];
      const grid =
        typeof p !== 'number' || Math.abs(p) < 1
          ? 'Nothing from or to the grid'
          : p > 0
            ? `Importing ${watts(p)}`
            : `Exporting ${watts(-p)}`;
      const price =
        typeof v['tariff.price'] === 'number'
          ? `${fmt.num(v['tariff.price'], 2)} ${v['tariff.currency'] || ''}/kWh`
          : '—';
      return `${grid} · surplus ${watts(v['grid.surplus_power'])} · ${price}`;
    },
  },
  phone: {
    state(v) {
      const [lat, lon] = [v['location.latitude'], v['location.longitude']];
      if (typeof lat !== 'number' || typeof lon !== 'number') return 'No position';
      return `${lat.toFixed(4)}, ${lon.toFixed(4)} (±${fmt.num(v['location.accuracy'], 0)}${NBSP}m)`;
    },
  },
};

/** A kind this screen does not know: its values as they are. */
export const genericKind = {
  state: (v) =>
    Object.entries(v)
      .map(([ref, value]) => `${ref}: ${value}`)
      .join(' · ') || 'No values',
};

export const GROUPS = [
  { title: 'Lights', kinds: ['light'] },
  { title: 'Climate', kinds: ['thermostat'] },
  { title: 'Doors and locks', kinds: ['garage_door', 'door_lock'] },
  { title: 'Car charging', kinds: ['wallbox'] },
  { title: 'Energy', kinds: ['solar_inverter', 'home_battery', 'energy_meter'] },
  { title: 'Plugs', kinds: ['smart_plug'] },
  { title: 'Presence', kinds: ['presence_sensor', 'phone'] },
  { title: 'Other', kinds: [] },
];
