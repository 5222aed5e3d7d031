// The login screen: e-mail and password, and what went wrong in words (wrong credentials, too
// many attempts, an expired session that brought the person back here).

import { h, svg } from '../lib/dom.js';

function explain(err) {
  if (err.status === 401) return 'Wrong e-mail or password.';
  if (err.status === 429) {
    const wait = err.retryAfter ? `${Math.ceil(err.retryAfter)} s` : 'a few minutes';
    return `Too many attempts; try again in ${wait}.`;
  }
  return err.message || String(err);
}

export async function mount(el, ctx) {
  const error = h('p', {
    class: 'alert',
    'data-test': 'login-error',
    role: 'alert',
    hidden: !ctx.message,
  });
  error.textContent = ctx.message || '';
  const email = h('input', {
    id: 'login-email',
    type: 'email',
    name: 'email',
    autocomplete: 'username',
    required: true,
    'data-test': 'login-email',
  });
  const password = h('input', {
    id: 'login-password',
    type: 'password',
    name: 'password',
    autocomplete: 'current-password',
    required: true,
    'data-test': 'login-password',
  });
  const submit = h(
    'button',
    { class: 'btn btn-primary', type: 'submit', 'data-test': 'login-submit' },
    'Log in',
  );

  function showError(text) {
    error.textContent = text;
    error.hidden = !text;
  }

  async function onSubmit(event) {
    event.preventDefault();
    if (!email.value.trim() || !password.value) {
      showError('Enter your e-mail address and password.');
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Logging in…';
    try {
      await ctx.login(email.value.trim(), password.value);
    } catch (err) {
      showError(explain(err));
      password.select();
      submit.disabled = false;
      submit.textContent = 'Log in';
    }
  }

  el.appendChild(
    h(
      'div',
      { class: 'card login' },
      h(
        'div',
        { class: 'brand' },
        svg(
          'svg',
          { class: 'brand-mark', viewBox: '0 0 24 24', 'aria-hidden': 'true' },
          svg('path', { d: 'M13 2 4 14h7l-1 8 9-12h-7z' }),
        ),
        'smartev',
      ),
      h('h1', {}, 'Log in'),
      error,
      h(
        'form',
        { onsubmit: onSubmit, novalidate: true },
        h('div', { class: 'field' }, h('label', { for: 'login-email' }, 'E-mail'), email),
        h('div', { class: 'field' }, h('label', { for: 'login-password' }, 'Password'), password),
        submit,
      ),
    ),
  );
  email.focus();
}
