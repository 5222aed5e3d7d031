// The household's scenes on the home screen (views/home.js): each with Activate (owner and
// drivers) showing what every value did, and for the owner the YAML editor to change, add or
// delete one.

import { h, replace } from '../lib/dom.js';
import { yamlEditor, problemsOf } from './yaml-editor.js';

function stepLine(step) {
  const ok = step.result === 'ok';
  return h(
    'li',
    { class: ok ? 'step-ok' : 'step-bad' },
    h('span', { class: `badge ${ok ? 'badge-ok' : 'badge-bad'}` }, step.result),
    ' ',
    step.detail || step.path,
  );
}

/**
 * The owner's editor of a scene's YAML (``scene`` null: a new one from ``template``): Save
 * (PUT or POST, a 422's problems shown at their lines), Cancel, and Delete with a question.
 */
export function sceneEditor(ctx, scene, template, done) {
  const url = `/households/${encodeURIComponent(ctx.household.id)}/scenes`;
  const editor = yamlEditor({
    value: scene ? scene.source : template,
    label: scene ? `Scene "${scene.name}" (YAML)` : 'New scene (YAML)',
    test: 'scene-editor',
  });
  if (scene && scene.problems.length) editor.showProblems(scene.problems);
  const status = h('p', { class: 'editor-status', role: 'status' });
  const save = async () => {
    status.textContent = 'Saving…';
    try {
      const saved = scene
        ? await ctx.api.put(`${url}/${encodeURIComponent(scene.id)}`, { source: editor.value })
        : await ctx.api.post(url, { source: editor.value });
      ctx.toast(`Saved scene "${saved.name}".`);
      done(true);
    } catch (err) {
      const problems = problemsOf(err);
      if (problems) editor.showProblems(problems);
      status.textContent = problems
        ? `Not saved: ${problems.length} problem(s).`
        : `Not saved: ${err.message}`;
    }
  };
  const confirmDelete = h(
    'span',
    { class: 'confirm', hidden: true, role: 'alertdialog', 'aria-label': 'Delete the scene?' },
    'Delete this scene? Automations that use it stop fitting.',
    h(
      'button',
      {
        type: 'button',
        class: 'btn btn-small btn-danger',
        onclick: async () => {
          try {
            await ctx.api.del(`${url}/${encodeURIComponent(scene.id)}`);
            ctx.toast(`Deleted scene "${scene.name}".`);
            done(true);
          } catch (err) {
            status.textContent = err.message;
          }
        },
      },
      'Delete',
    ),
    h(
      'button',
      { type: 'button', class: 'btn btn-small', onclick: () => (confirmDelete.hidden = true) },
      'Cancel',
    ),
  );
  return h(
    'div',
    { class: 'scene-editor' },
    editor.el,
    h(
      'div',
      { class: 'row' },
      h('button', { type: 'button', class: 'btn btn-primary btn-small', onclick: save }, 'Save'),
      h('button', { type: 'button', class: 'btn btn-small', onclick: () => done(false) }, 'Cancel'),
      scene
        ? h(
            'button',
            {
              type: 'button',
              class: 'btn btn-small btn-danger',
              onclick: () => (confirmDelete.hidden = false),
            },
            'Delete…',
          )
        : null,
      scene ? confirmDelete : null,
      status,
    ),
  );
}

export function sceneRow(ctx, scene, reload) {
  const result = h('div', { class: 'scene-result', 'aria-live': 'polite' });
  const base = `/households/${encodeURIComponent(ctx.household.id)}/scenes/${encodeURIComponent(scene.id)}`;
  const button = ctx.canControlHome
    ? h(
        'button',
        {
          class: 'btn btn-primary btn-small',
          type: 'button',
          'data-test': 'scene-activate',
          disabled: scene.problems.length > 0,
          onclick: async () => {
            button.disabled = true;
            replace(result, h('p', { class: 'muted' }, 'Applying…'));
            try {
              const done = await ctx.api.post(`${base}/activate`);
              replace(
                result,
                h('p', {}, done.ok ? 'Every value is set.' : 'Not every value could be set:'),
                h('ul', { class: 'steps' }, done.steps.map(stepLine)),
              );
            } catch (err) {
              replace(result, h('p', { class: 'error-text', role: 'alert' }, err.message));
            } finally {
              button.disabled = false;
            }
          },
        },
        'Activate',
      )
    : null;
  const description = (scene.source.match(/^description:\s*"?(.*?)"?\s*$/m) || [])[1];
  const editSlot = h('div', { class: 'scene-edit' });
  const edit = ctx.isOwner
    ? h(
        'button',
        {
          type: 'button',
          class: 'btn btn-small',
          'data-test': 'scene-edit',
          onclick: () =>
            replace(
              editSlot,
              sceneEditor(ctx, scene, '', (changed) => (changed ? reload() : replace(editSlot))),
            ),
        },
        'Edit',
      )
    : null;
  return h(
    'li',
    { class: 'scene-row', 'data-test': 'scene-row', 'data-scene': scene.id },
    h(
      'div',
      { class: 'scene-head' },
      h(
        'div',
        {},
        h('strong', {}, scene.name),
        description ? h('p', { class: 'muted' }, description) : null,
      ),
      h('div', { class: 'row' }, edit, button),
    ),
    editSlot,
    scene.problems.length
      ? h(
          'ul',
          { class: 'problems' },
          scene.problems.map((p) =>
            h('li', { class: 'error-text' }, `line ${p.line}: ${p.message}`),
          ),
        )
      : null,
    result,
  );
}
