// The car's remote controls: lock and unlock, climate on (with its set point) and off, the
// charge limit, start and stop charging, the trunk. Only the commands the person's role may
// send are offered. Each control shows its command's state live (requested → delivered →
// accepted → executed, or why it was rejected, failed or expired). The controls wait until the
// car has enrolled this browser's key, and say so.

import { h } from '../lib/dom.js';
import { NO_CRYPTO } from '../lib/commands.js';

const STATE_WORDS = {
  requested: 'requested…',
  delivered: 'delivered to the car…',
  accepted: 'accepted, carrying out…',
  executed: 'executed',
  rejected: 'rejected',
  failed: 'failed',
  expired: 'expired',
};
const BUSY_MAX_MS = 20_000;

const ENROLLMENT_TEXT = {
  pending: "Waiting for the owner to add this browser's key to the car…",
  revoked:
    "This browser's key was revoked for this car, so the car no longer takes its commands. " +
    'Ask the owner to add this browser again.',
  unsupported: NO_CRYPTO,
};

/**
 * The controls card for ``car``. ``getValue(path)`` reads the car's current value of a signal
 * (for the set point and limit fields). Returns {el, update(), stop()}.
 */
export function createControls(ctx, car, getValue) {
  const can = (name) => ctx.commands.can(car.car_id, name);
  const buttons = [];
  const stops = [];
  let enrolled = false;

  const notice = h('p', { class: 'notice', 'data-test': 'enrollment', role: 'status' });
  notice.hidden = true;

  function stateLine(name) {
    return h('p', {
      class: 'cmd-state',
      'data-test': 'cmd-state',
      'data-command': name,
      'aria-live': 'polite',
    });
  }

  function showState(line, label, state, reason) {
    line.dataset.state = state;
    const words = STATE_WORDS[state] || state;
    const why = ['rejected', 'failed', 'expired'].includes(state) && reason ? `: ${reason}` : '';
    line.textContent = `${label} — ${words}${why}`;
  }

  // One command button; ``args()`` builds its arguments (null: invalid input, already shown).
  function commandButton({ name, label, test, args = () => ({}), lines, primary = false }) {
    const line = stateLine(name);
    lines.push(line);
    const button = h(
      'button',
      {
        class: `btn${primary ? ' btn-primary' : ''}`,
        type: 'button',
        'data-test': test,
        disabled: true,
      },
      label,
    );
    button.addEventListener('click', () => {
      const built = args(line, label);
      if (built === null) return;
      // The group's other lines told of earlier commands: this one is the news now.
      for (const other of lines) {
        if (other === line) continue;
        other.textContent = '';
        delete other.dataset.state;
      }
      button.dataset.busy = 'true';
      button.disabled = true;
      const release = () => {
        delete button.dataset.busy;
        button.disabled = !enrolled;
      };
      const timer = setTimeout(release, BUSY_MAX_MS);
      const tracker = ctx.commands.send(car.car_id, name, built);
      const off = tracker.onChange((state, reason) => {
        showState(line, label, state, reason);
        if (tracker.final) {
          clearTimeout(timer);
          release();
        }
      });
      stops.push(off);
    });
    buttons.push(button);
    return { button, line };
  }

  function numberField({ id, label, min, max, step, test, unit }) {
    const input = h('input', {
      id,
      type: 'number',
      min,
      max,
      step,
      inputmode: 'decimal',
      'data-test': test,
    });
    const field = h(
      'span',
      { class: 'row' },
      h('label', { for: id, class: 'label' }, label),
      input,
      h('span', { class: 'muted' }, unit),
    );
    return { input, field };
  }

  // The field's number when it is within the command's range, else null (and the line says so).
  function checked(input, line, label, low, high, unit, integer) {
    const value = Number(input.value);
    const fits = Number.isFinite(value) && value >= low && value <= high;
    if (input.value !== '' && fits && (!integer || Number.isInteger(value))) return value;
    const what = integer ? 'a whole number' : 'a value';
    line.dataset.state = 'failed';
    line.textContent = `${label} — ${what} from ${low} to ${high} ${unit}, please.`;
    input.focus();
    return null;
  }

  const groups = [];

  if (can('door.lock') || can('door.unlock')) {
    const lines = [];
    const parts = [];
    if (can('door.lock')) {
      parts.push(commandButton({ name: 'door.lock', label: 'Lock', test: 'cmd-lock', lines }));
    }
    if (can('door.unlock')) {
      parts.push(
        commandButton({ name: 'door.unlock', label: 'Unlock', test: 'cmd-unlock', lines }),
      );
    }
    groups.push(control('Doors', parts.map((p) => p.button), lines));
  }

  let setpoint = null;
  if (can('hvac.set') || can('hvac.off')) {
    const lines = [];
    const row = [];
    if (can('hvac.set')) {
      setpoint = numberField({
        id: 'climate-setpoint',
        label: 'Set point',
        min: 15,
        max: 30,
        step: 0.5,
        test: 'climate-setpoint',
        unit: '°C',
      });
      row.push(setpoint.field);
      const on = commandButton({
        name: 'hvac.set',
        label: 'Climate on',
        test: 'cmd-climate-on',
        lines,
        args: (line, label) => {
          const t = checked(setpoint.input, line, label, 15, 30, '°C', false);
          return t === null ? null : { temp_c: t };
        },
      });
      row.push(on.button);
    }
    if (can('hvac.off')) {
      row.push(
        commandButton({ name: 'hvac.off', label: 'Climate off', test: 'cmd-climate-off', lines })
          .button,
      );
    }
    groups.push(control('Climate', row, lines));
  }

  let limit = null;
  if (can('charging.start') || can('charging.stop') || can('charge_limit.set')) {
    const lines = [];
    const row = [];
    if (can('charging.start')) {
      row.push(
        commandButton({
          name: 'charging.start',
          label: 'Start charging',
          test: 'cmd-charge-start',
          lines,
        }).button,
      );
    }
    if (can('charging.stop')) {
      row.push(
        commandButton({
          name: 'charging.stop',
          label: 'Stop charging',
          test: 'cmd-charge-stop',
          lines,
        }).button,
      );
    }
    const limitRow = [];
    if (can('charge_limit.set')) {
      limit = numberField({
        id: 'charge-limit',
        label: 'Charge limit',
        min: 50,
        max: 100,
        step: 1,
        test: 'charge-limit',
        unit: '%',
      });
      limitRow.push(limit.field);
      limitRow.push(
        commandButton({
          name: 'charge_limit.set',
          label: 'Set limit',
          test: 'cmd-charge-limit',
          lines,
          args: (line, label) => {
            const p = checked(limit.input, line, label, 50, 100, '%', true);
            return p === null ? null : { percent: p };
          },
        }).button,
      );
    }
    const rows = [h('span', { class: 'row' }, ...row), h('span', { class: 'row' }, ...limitRow)];
    groups.push(control('Charging', rows, lines));
  }

  if (can('trunk.open')) {
    const lines = [];
    const open = commandButton({
      name: 'trunk.open',
      label: 'Open trunk',
      test: 'cmd-trunk',
      lines,
      args: () => ({ trunk: 'rear' }),
    });
    groups.push(control('Trunk', [open.button], lines));
  }

  function control(title, items, lines) {
    return h(
      'div',
      { class: 'control' },
      h('div', { class: 'control-title' }, title),
      h('div', { class: 'row' }, ...items),
      ...lines,
    );
  }

  const el = h(
    'section',
    { class: 'card controls-card', 'aria-labelledby': 'controls-title' },
    h('div', { class: 'card-head' }, h('h2', { id: 'controls-title' }, 'Remote control')),
    notice,
    groups.length
      ? h('div', { class: 'controls' }, ...groups)
      : h('p', { class: 'empty' }, 'Your role for this car does not include remote commands.'),
  );

  function setEnrollment(state, err) {
    enrolled = state === 'enrolled';
    for (const b of buttons) if (!b.dataset.busy) b.disabled = !enrolled;
    el.dataset.enrollment = state;
    if (enrolled) {
      notice.hidden = true;
      return;
    }
    notice.hidden = false;
    notice.textContent =
      ENROLLMENT_TEXT[state] ||
      `Could not check this browser's key: ${(err && err.message) || state}. Trying again…`;
  }

  // Seed the fields with the car's values until the person edits them.
  function update() {
    const seed = (field, value) => {
      if (!field || field.input.dataset.edited || document.activeElement === field.input) return;
      if (Number.isFinite(value)) field.input.value = String(value);
    };
    seed(setpoint, getValue('Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature'));
    seed(limit, getValue('Vehicle.Powertrain.TractionBattery.Charging.ChargeLimit'));
  }
  for (const field of [setpoint, limit]) {
    if (field) field.input.addEventListener('input', () => (field.input.dataset.edited = 'true'));
  }
  if (setpoint) setpoint.input.value = '21';
  if (limit) limit.input.value = '80';

  if (groups.length) {
    stops.push(ctx.commands.watchEnrollment(car.car_id, setEnrollment));
  }
  return {
    el,
    update,
    stop() {
      for (const off of stops.splice(0)) off();
    },
  };
}
