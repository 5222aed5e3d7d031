// Automations (#/automations, #/automations/<id>, #/automations/new): the list with each one's
// last run, one automation with its runs (traces: the trigger in words, every condition's and
// step's result, the outcome; updated live) and "Run now", and for the owner the YAML editor
// (line numbers, Validate, Save, every problem shown at its line), the enable switch and delete.
// Others see the text read-only.

import { h, fmt, replace } from '../lib/dom.js';
import { ApiError } from '../lib/api.js';
import { outcomeBadge, runList } from './automation-runs.js';
import { yamlEditor, problemsOf } from './yaml-editor.js';

const base = (ctx) => `/households/${encodeURIComponent(ctx.household.id)}/automations`;

// --- the list ------------------------------------------------------------------------------------

async function mountList(el, ctx) {
  const list = h('ul', { class: 'automation-list' });
  el.append(
    h(
      'div',
      { class: 'view-head' },
      h('h1', {}, 'Automations'),
      ctx.isOwner
        ? h('a', { class: 'btn btn-primary', href: '#/automations/new' }, 'New automation')
        : null,
    ),
    h('div', { class: 'card' }, list),
  );
  const lastRun = new Map(); // automation id → the element showing its last run

  function lastRunEl(run) {
    if (!run) return h('span', { class: 'muted' }, 'never run');
    return h(
      'span',
      { class: 'last-run', 'data-run': run.run_id },
      outcomeBadge(run.outcome),
      ` ${fmt.ago(run.started || run.ts)}`,
    );
  }

  async function load() {
    const automations = await ctx.api.get(base(ctx));
    const runs = await Promise.all(
      automations.map((a) =>
        ctx.api
          .get(`${base(ctx)}/${encodeURIComponent(a.id)}/traces`, { limit: 1 })
          .then((r) => r[0] || null)
          .catch(() => null),
      ),
    );
    lastRun.clear();
    replace(
      list,
      ...automations.map((a, i) => {
        const last = h('span', { class: 'automation-last' }, lastRunEl(runs[i]));
        lastRun.set(a.id, last);
        return h(
          'li',
          {},
          h(
            'a',
            {
              class: 'automation-row',
              'data-test': 'automation-row',
              'data-automation': a.id,
              href: `#/automations/${encodeURIComponent(a.id)}`,
            },
            h('span', { class: 'automation-name' }, a.alias),
            h(
              'span',
              { class: 'automation-badges' },
              h(
                'span',
                { class: `badge ${a.enabled ? 'badge-ok' : ''}` },
                a.enabled ? 'on' : 'off',
              ),
              a.problems.length ? h('span', { class: 'badge badge-bad' }, 'does not fit') : null,
            ),
            last,
          ),
        );
      }),
    );
    if (!automations.length) list.append(h('li', { class: 'empty' }, 'No automations yet.'));
  }

  await load();
  const offs = [
    ctx.live.on('automation_run', (m) => {
      if (m.household_id === ctx.household.id && lastRun.has(m.automation_id)) {
        replace(lastRun.get(m.automation_id), lastRunEl(m));
      }
    }),
    ctx.live.on('resync', () => load().catch(() => {})),
  ];
  return () => offs.forEach((off) => off());
}

// --- one automation, or a new one ----------------------------------------------------------------

function template(ctx) {
  const to = (ctx.me && ctx.me.email) || 'me@example.com';
  return [
    'alias: Plug-in reminder',
    'description: At 22:00 every day, a reminder to plug in the car.',
    'mode: single',
    'triggers:',
    '  - trigger: time',
    '    at: "22:00"',
    'actions:',
    `  - notify: ${to}`,
    '    message: Is the car plugged in?',
    '',
  ].join('\n');
}

async function mountDetail(el, ctx, id) {
  const isNew = id === 'new';
  let automation = null;
  if (!isNew) {
    try {
      automation = await ctx.api.get(`${base(ctx)}/${encodeURIComponent(id)}`);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 404) throw err;
      el.append(
        h('a', { class: 'back-link', href: '#/automations' }, '← All automations'),
        h('p', { class: 'empty', role: 'alert' }, err.message),
      );
      return undefined;
    }
  }
  const owner = ctx.isOwner;
  const editor = yamlEditor({
    value: isNew ? template(ctx) : automation.source,
    readOnly: !owner,
    label: owner ? 'Automation (YAML)' : 'Automation (YAML, read-only)',
  });
  const status = h('p', { class: 'editor-status', role: 'status' });
  const title = h('h1', {}, isNew ? 'New automation' : automation.alias);
  const badges = h('span', { class: 'automation-badges' });
  const back = h('a', { class: 'back-link', href: '#/automations' }, '← All automations');

  function showHeader() {
    if (!automation) return;
    title.textContent = automation.alias;
    replace(
      badges,
      h(
        'span',
        { class: `badge ${automation.enabled ? 'badge-ok' : ''}` },
        automation.enabled ? 'enabled' : 'disabled',
      ),
      automation.problems.length
        ? h('span', { class: 'badge badge-bad' }, 'does not fit the home: it does not run')
        : null,
    );
    if (enabled) enabled.checked = automation.enabled;
  }

  async function validate() {
    status.textContent = 'Checking…';
    try {
      const answer = await ctx.api.post(`${base(ctx)}/validate`, { source: editor.value });
      editor.showProblems(answer.problems);
      status.textContent = answer.ok
        ? `It fits: "${answer.alias}".`
        : `${answer.problems.length} problem(s) found.`;
    } catch (err) {
      status.textContent = err.message;
    }
  }

  async function save() {
    status.textContent = 'Saving…';
    const body = { source: editor.value, enabled: automation ? automation.enabled : true };
    try {
      const saved = isNew
        ? await ctx.api.post(base(ctx), body)
        : await ctx.api.put(`${base(ctx)}/${encodeURIComponent(automation.id)}`, body);
      editor.showProblems([]);
      status.textContent = 'Saved.';
      ctx.toast(`Saved "${saved.alias}".`);
      if (isNew) {
        ctx.navigate(`#/automations/${encodeURIComponent(saved.id)}`);
        return;
      }
      automation = saved;
      showHeader();
    } catch (err) {
      const problems = problemsOf(err);
      if (problems) {
        editor.showProblems(problems);
        status.textContent = `Not saved: ${problems.length} problem(s).`;
      } else {
        status.textContent = `Not saved: ${err.message}`;
      }
    }
  }

  // The enable switch and delete (owner), "Run now" (owner and drivers).
  let enabled = null;
  const tools = h('div', { class: 'row automation-tools' });
  let runs = null;
  if (!isNew) {
    if (ctx.canControlHome) {
      const skipId = `skip-${automation.id}`;
      const skip = h('input', { type: 'checkbox', id: skipId });
      const runButton = h(
        'button',
        {
          type: 'button',
          class: 'btn btn-primary',
          'data-test': 'automation-run',
          onclick: async () => {
            runButton.disabled = true;
            runButton.textContent = 'Running…';
            try {
              const trace = await ctx.api.post(
                `${base(ctx)}/${encodeURIComponent(automation.id)}/run${skip.checked ? '?skip_conditions=true' : ''}`,
              );
              runs.open.add(trace.run_id);
              await runs.load();
            } catch (err) {
              ctx.toast(err.message, 'error');
            } finally {
              runButton.disabled = false;
              runButton.textContent = 'Run now';
            }
          },
        },
        'Run now',
      );
      tools.append(
        runButton,
        h('label', { class: 'check', for: skipId }, skip, ' ignore its conditions'),
      );
    }
    if (owner) {
      const switchId = `enabled-${automation.id}`;
      enabled = h('input', {
        type: 'checkbox',
        id: switchId,
        role: 'switch',
        'data-test': 'automation-enabled',
        onchange: async () => {
          const want = enabled.checked;
          try {
            automation = await ctx.api.put(`${base(ctx)}/${encodeURIComponent(automation.id)}`, {
              source: automation.source,
              enabled: want,
            });
            showHeader();
          } catch (err) {
            enabled.checked = !want;
            ctx.toast(`Could not ${want ? 'enable' : 'disable'} it: ${err.message}`, 'error');
          }
        },
      });
      const confirmBox = h('div', {
        class: 'confirm',
        hidden: true,
        role: 'alertdialog',
        'aria-label': 'Delete?',
      });
      const del = h(
        'button',
        { type: 'button', class: 'btn btn-danger', onclick: () => (confirmBox.hidden = false) },
        'Delete…',
      );
      confirmBox.append(
        h('span', {}, `Delete "${automation.alias}" and its runs?`),
        h(
          'button',
          {
            type: 'button',
            class: 'btn btn-danger',
            'data-test': 'automation-delete-confirm',
            onclick: async () => {
              try {
                await ctx.api.del(`${base(ctx)}/${encodeURIComponent(automation.id)}`);
                ctx.toast(`Deleted "${automation.alias}".`);
                ctx.navigate('#/automations');
              } catch (err) {
                ctx.toast(err.message, 'error');
              }
            },
          },
          'Delete',
        ),
        h(
          'button',
          { type: 'button', class: 'btn', onclick: () => (confirmBox.hidden = true) },
          'Cancel',
        ),
      );
      tools.append(
        h('label', { class: 'check', for: switchId }, enabled, ' Enabled'),
        del,
        confirmBox,
      );
    }
    runs = runList(ctx, automation.id);
  }

  const editorCard = h(
    'section',
    { class: 'card editor-card', 'aria-label': 'Automation text' },
    editor.el,
    owner
      ? h(
          'div',
          { class: 'row' },
          h(
            'button',
            { type: 'button', class: 'btn', 'data-test': 'automation-validate', onclick: validate },
            'Validate',
          ),
          h(
            'button',
            {
              type: 'button',
              class: 'btn btn-primary',
              'data-test': 'automation-save',
              onclick: save,
            },
            'Save',
          ),
          status,
        )
      : null,
  );
  el.append(
    h(
      'article',
      { class: 'automation-detail', 'data-test': 'automation-detail' },
      back,
      h('div', { class: 'view-head' }, title, badges),
      tools.childElementCount ? tools : null,
      h(
        'div',
        { class: 'detail-grid' },
        editorCard,
        runs
          ? h(
              'section',
              { class: 'card runs-card', 'aria-labelledby': 'runs-title' },
              h('h2', { id: 'runs-title' }, 'Runs'),
              runs.el,
            )
          : null,
      ),
    ),
  );
  showHeader();
  if (automation && automation.problems.length) editor.showProblems(automation.problems);
  if (!runs) return undefined;
  await runs.load();
  const offs = [
    ctx.live.on('automation_run', (m) => {
      if (m.household_id === ctx.household.id && m.automation_id === automation.id)
        runs.load().catch(() => {});
    }),
    ctx.live.on('resync', () => runs.load().catch(() => {})),
  ];
  return () => offs.forEach((off) => off());
}

export async function mount(el, ctx, params) {
  if (!ctx.household) {
    el.append(h('h1', {}, 'Automations'), h('p', { class: 'empty' }, 'You are in no household.'));
    return undefined;
  }
  const [id] = params || [];
  if (id === 'new' && !ctx.isOwner) {
    el.append(h('p', { class: 'empty' }, 'Only the owner of the household adds automations.'));
    return undefined;
  }
  return id ? mountDetail(el, ctx, id) : mountList(el, ctx);
}
