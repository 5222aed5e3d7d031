// An automation's runs (views/automations.js): the outcome badge, and the list of runs newest
// first whose rows open to the full trace: the trigger in words, each condition's and step's
// result with its details and outputs, the error and how long it took.

import { h, fmt, replace } from '../lib/dom.js';

const base = (ctx) => `/households/${encodeURIComponent(ctx.household.id)}/automations`;

const OUTCOMES = {
  finished: ['finished', 'badge-ok'],
  running: ['running', 'badge-info'],
  conditions_failed: ['conditions not met', ''],
  stopped: ['stopped', 'badge-warn'],
  already_running: ['already running', 'badge-warn'],
  restarted: ['restarted', 'badge-warn'],
  failed: ['failed', 'badge-bad'],
  loop_stopped: ['stopped a loop', 'badge-bad'],
  aborted: ['aborted', 'badge-bad'],
};
const RESULTS = {
  true: 'badge-ok',
  ok: 'badge-ok',
  false: '',
  skipped: '',
  failed: 'badge-bad',
  timeout: 'badge-bad',
};

export function outcomeBadge(outcome) {
  const [words, cls] = OUTCOMES[outcome] || [outcome, ''];
  return h('span', { class: `badge ${cls}`, 'data-outcome': outcome }, words);
}

function stepItem(step) {
  // actions/1/light:hall/light.on is a value set by the scene of actions/1: shown inside it.
  const depth = Math.max(0, step.path.split('/').length - 2);
  const outputs = Object.entries(step.outputs || {});
  return h(
    'li',
    { class: `trace-step depth-${Math.min(depth, 3)}` },
    h('span', { class: `badge ${RESULTS[step.result] ?? ''}` }, step.result),
    ' ',
    h('span', {}, step.detail || step.kind),
    outputs.length
      ? h('span', { class: 'muted' }, ` → ${outputs.map(([k, v]) => `${k}: ${v}`).join(', ')}`)
      : null,
    h('span', { class: 'muted step-path' }, ` ${step.path}`),
  );
}

function traceBody(t) {
  const trig = t.trigger;
  const change =
    trig.from_value !== null || trig.to_value !== null
      ? ` (${trig.from_value ?? '—'} → ${trig.to_value ?? '—'})`
      : '';
  const took = t.finished ? (Date.parse(t.finished) - Date.parse(t.started)) / 1000 : null;
  return [
    h(
      'p',
      {},
      h('strong', {}, 'Trigger: '),
      `${trig.description}${change}`,
      h('span', { class: 'muted' }, ` at ${fmt.time(trig.ts)}`),
    ),
    t.caused_by.length ? h('p', { class: 'muted' }, `Caused by: ${t.caused_by.join(' ← ')}`) : null,
    h('p', { class: 'trace-heading' }, h('strong', {}, 'Conditions')),
    t.conditions.length
      ? h('ul', { class: 'trace-steps' }, t.conditions.map(stepItem))
      : h('p', { class: 'muted' }, 'None.'),
    h('p', { class: 'trace-heading' }, h('strong', {}, 'Actions')),
    t.actions.length
      ? h('ul', { class: 'trace-steps' }, t.actions.map(stepItem))
      : h('p', { class: 'muted' }, 'None ran.'),
    t.error ? h('p', { class: 'error-text' }, t.error) : null,
    h('p', { class: 'muted' }, took === null ? 'Still running.' : `Took ${fmt.duration(took)}.`),
  ];
}

/** The runs of one automation, newest first; a row opens to its full trace. */
export function runList(ctx, automationId) {
  const list = h('ul', { class: 'trace-list' });
  const open = new Set(); // run ids shown open: kept open across reloads
  const url = `${base(ctx)}/${encodeURIComponent(automationId)}/traces`;

  function row(summary) {
    const bodyId = `trace-${summary.run_id}`;
    const body = h('div', { class: 'trace-body', id: bodyId, hidden: true });
    const toggle = h(
      'button',
      { type: 'button', class: 'trace-toggle', 'aria-expanded': 'false', 'aria-controls': bodyId },
      outcomeBadge(summary.outcome),
      h('span', { class: 'trace-when' }, fmt.time(summary.started)),
      h('span', { class: 'trace-trigger' }, summary.trigger),
    );
    async function expand(show) {
      toggle.setAttribute('aria-expanded', String(show));
      body.hidden = !show;
      if (!show) {
        open.delete(summary.run_id);
        return;
      }
      open.add(summary.run_id);
      replace(body, h('p', { class: 'muted' }, 'Loading…'));
      try {
        replace(
          body,
          ...traceBody(await ctx.api.get(`${url}/${encodeURIComponent(summary.run_id)}`)),
        );
      } catch (err) {
        replace(body, h('p', { class: 'error-text' }, err.message));
      }
    }
    toggle.addEventListener('click', () => expand(body.hidden));
    const li = h(
      'li',
      {
        class: 'trace-row',
        'data-test': 'trace-row',
        'data-run': summary.run_id,
        'data-outcome': summary.outcome,
      },
      toggle,
      body,
    );
    if (open.has(summary.run_id)) expand(true);
    return li;
  }

  async function load() {
    const runs = await ctx.api.get(url, { limit: 20 });
    replace(list, ...runs.map(row));
    if (!runs.length) list.append(h('li', { class: 'empty' }, 'It has not run yet.'));
  }

  return { el: list, load, open };
}
