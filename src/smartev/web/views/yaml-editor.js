// A YAML text editor for automations and scenes: a line-number gutter scrolled with the text,
// Tab to indent, and the problems of a refused text (each {line, column, path, message}) listed
// with their lines marked; a problem clicked puts the caret on its line.

import { h, replace } from '../lib/dom.js';
import { ApiError } from '../lib/api.js';

let editors = 0;

/**
 * A text editor with a line-number gutter (scrolled with the text) and a list of problems
 * ({line, column, path, message}) that mark their lines and move the caret there when clicked.
 * Tab indents by two spaces (Shift+Tab outdents); after Escape, Tab leaves the editor.
 */
export function yamlEditor({
  value = '',
  readOnly = false,
  label = 'YAML text',
  test = 'automation-editor',
} = {}) {
  editors += 1;
  const id = `editor-${editors}`;
  const gutter = h('div', {
    class: 'editor-lines',
    'data-test': 'editor-lines',
    'aria-hidden': 'true',
  });
  const area = h('textarea', {
    id,
    class: 'editor-text',
    'data-test': test,
    spellcheck: 'false',
    autocapitalize: 'off',
    autocomplete: 'off',
    wrap: 'off',
    rows: 18,
    readonly: readOnly,
    'aria-describedby': `${id}-problems`,
  });
  area.value = value;
  const problemsEl = h('ul', {
    class: 'editor-problems',
    id: `${id}-problems`,
    'aria-live': 'polite',
  });
  let errorLines = new Set();
  let escaped = false;

  function drawGutter() {
    const count = area.value.split('\n').length;
    if (gutter.childElementCount !== count) {
      const lines = [];
      for (let n = 1; n <= count; n += 1) lines.push(h('div', { 'data-line': n }, String(n)));
      replace(gutter, ...lines);
    }
    for (const line of gutter.children)
      line.classList.toggle('error', errorLines.has(Number(line.dataset.line)));
    gutter.scrollTop = area.scrollTop;
  }

  /** Put the caret at ``line``/``column`` (1-based) and bring it into view. */
  function goTo(line, column = 1) {
    const lines = area.value.split('\n');
    const at = Math.min(Math.max(1, line), lines.length);
    let offset = 0;
    for (let i = 0; i < at - 1; i += 1) offset += lines[i].length + 1;
    offset += Math.min(Math.max(0, column - 1), lines[at - 1].length);
    area.focus();
    area.setSelectionRange(offset, offset);
    const lineHeight = parseFloat(getComputedStyle(area).lineHeight) || 20;
    area.scrollTop = Math.max(0, (at - 1) * lineHeight - area.clientHeight / 3);
    drawGutter();
  }

  function indent(outdent) {
    const { selectionStart: s, selectionEnd: e, value: text } = area;
    const lineStart = text.lastIndexOf('\n', s - 1) + 1;
    if (!outdent && s === e) {
      area.setRangeText('  ', s, e, 'end');
      return;
    }
    const block = text.slice(lineStart, e);
    const changed = block
      .split('\n')
      .map((l) => (outdent ? l.replace(/^ {1,2}/, '') : `  ${l}`))
      .join('\n');
    area.setRangeText(changed, lineStart, e, 'select');
  }

  area.addEventListener('input', drawGutter);
  area.addEventListener('scroll', () => {
    gutter.scrollTop = area.scrollTop;
  });
  area.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      escaped = true;
      return;
    }
    if (
      event.key === 'Tab' &&
      !readOnly &&
      !escaped &&
      !event.ctrlKey &&
      !event.metaKey &&
      !event.altKey
    ) {
      event.preventDefault();
      indent(event.shiftKey);
      drawGutter();
    }
    escaped = false;
  });

  const el = h(
    'div',
    { class: 'editor-wrap' },
    h('label', { class: 'label', for: id }, label),
    h('div', { class: `editor${readOnly ? ' readonly' : ''}` }, gutter, area),
    readOnly
      ? null
      : h('p', { class: 'hint' }, 'Tab indents; press Escape, then Tab, to leave the text.'),
    problemsEl,
  );
  drawGutter();

  return {
    el,
    area,
    get value() {
      return area.value;
    },
    set value(text) {
      area.value = text;
      drawGutter();
    },
    goTo,
    /** Show ``problems`` (an empty list clears them). */
    showProblems(problems) {
      errorLines = new Set(problems.map((p) => p.line));
      replace(
        problemsEl,
        ...problems.map((p) =>
          h(
            'li',
            {},
            h(
              'button',
              {
                type: 'button',
                class: 'problem',
                'data-test': 'automation-error',
                'data-line': p.line,
                onclick: () => goTo(p.line, p.column || 1),
              },
              p.column ? `line ${p.line}, column ${p.column}: ` : `line ${p.line}: `,
              p.message,
              p.path ? h('span', { class: 'problem-path' }, ` (${p.path})`) : null,
            ),
          ),
        ),
      );
      drawGutter();
    },
  };
}

/** The problems of a refused text, from a 422 answer (or none: the error is of another kind). */
export function problemsOf(err) {
  return err instanceof ApiError &&
    err.status === 422 &&
    err.body &&
    Array.isArray(err.body.problems)
    ? err.body.problems
    : null;
}
