// The household (#/household): its members with their role for each car (owner, driver, guest
// with its window, charging manager). The owner invites people (a one-time code to pass on),
// sees and cancels open invites, gives or changes a member's role for a car, takes it back and
// removes members; every such change asks first. Other members see the list and may leave.

import { h, fmt, replace, worldClock } from '../lib/dom.js';

const ROLE_WORDS = {
  owner: 'owner',
  driver: 'driver',
  guest: 'guest',
  charging_manager: 'charging manager',
};
const capital = (text) => text.charAt(0).toUpperCase() + text.slice(1);
const GRANTABLE = ['driver', 'guest', 'charging_manager'];
const DAY_MS = 86_400_000;

const grantUrl = (ctx, carId, userId) =>
  `/households/${encodeURIComponent(ctx.household.id)}/cars/${encodeURIComponent(carId)}` +
  `/grants/${encodeURIComponent(userId)}`;

/** An ISO time as the value of a datetime-local input (local time, minutes). */
function localInput(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return `${day}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A date people read, with the year when it is not this year's (role windows last long). */
function when(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  if (d.getFullYear() === new Date(worldClock.now()).getFullYear()) return fmt.time(iso);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

function roleText(grant) {
  const words = ROLE_WORDS[grant.role] || grant.role;
  const parts = [words];
  if (grant.valid_from && Date.parse(grant.valid_from) > worldClock.now())
    parts.push(`from ${when(grant.valid_from)}`);
  if (grant.valid_until) {
    parts.push(`until ${when(grant.valid_until)}`);
    if (Date.parse(grant.valid_until) <= worldClock.now()) parts.push('(over)');
  }
  return parts.join(' ');
}

/** "Are you sure?" in place: ``label`` opens it, ``yes`` runs ``action``. */
function confirmButton({ label, question, yes, test, action }) {
  const box = h('span', {
    class: 'confirm',
    hidden: true,
    role: 'alertdialog',
    'aria-label': question,
  });
  const open = h(
    'button',
    {
      type: 'button',
      class: 'btn btn-small btn-danger',
      'data-test': test,
      onclick: () => ((box.hidden = false), (open.hidden = true)),
    },
    label,
  );
  const close = () => ((box.hidden = true), (open.hidden = false));
  box.append(
    h('span', {}, question),
    h(
      'button',
      {
        type: 'button',
        class: 'btn btn-small btn-danger',
        'data-test': `${test}-confirm`,
        onclick: async (e) => {
          e.currentTarget.disabled = true;
          try {
            await action();
          } finally {
            close();
          }
        },
      },
      yes,
    ),
    h('button', { type: 'button', class: 'btn btn-small', onclick: close }, 'Cancel'),
  );
  return h('span', { class: 'confirm-wrap' }, open, box);
}

/** The owner's form to give ``member`` a role for ``car`` (or change it). */
function roleForm(ctx, member, car, current, done) {
  const n = `${member.user_id}-${car.id}`;
  const role = h(
    'select',
    { id: `role-${n}` },
    GRANTABLE.map((r) =>
      h('option', { value: r, selected: current && current.role === r }, capital(ROLE_WORDS[r])),
    ),
  );
  const from = h('input', { type: 'datetime-local', id: `from-${n}` });
  const until = h('input', { type: 'datetime-local', id: `until-${n}` });
  if (current && current.valid_from) from.value = localInput(Date.parse(current.valid_from));
  until.value = localInput(
    current && current.valid_until
      ? Date.parse(current.valid_until)
      : worldClock.now() + 7 * DAY_MS,
  );
  const error = h('p', { class: 'error-text', role: 'alert' });
  const windowFields = h(
    'div',
    { class: 'row' },
    h('div', { class: 'field' }, h('label', { for: `from-${n}` }, 'From (empty: now)'), from),
    h('div', { class: 'field' }, h('label', { for: `until-${n}` }, 'Until'), until),
  );
  const syncWindow = () => {
    windowFields.hidden = role.value !== 'guest';
  };
  role.addEventListener('change', syncWindow);
  syncWindow();
  const form = h(
    'form',
    {
      class: 'role-form',
      onsubmit: async (e) => {
        e.preventDefault();
        error.textContent = '';
        const body = { role: role.value, valid_from: null };
        if (from.value) body.valid_from = new Date(from.value).toISOString();
        if (role.value === 'guest') {
          if (!until.value) {
            error.textContent = 'A guest needs an end of their window: set "Until".';
            return;
          }
          body.valid_until = new Date(until.value).toISOString();
        }
        try {
          await ctx.api.put(grantUrl(ctx, car.id, member.user_id), body);
          ctx.toast(`${member.display_name}'s role for ${car.name}: ${ROLE_WORDS[role.value]}.`);
          done();
        } catch (err) {
          error.textContent = err.message;
        }
      },
    },
    h('div', { class: 'field' }, h('label', { for: `role-${n}` }, `Role for ${car.name}`), role),
    windowFields,
    h(
      'div',
      { class: 'row' },
      h('button', { type: 'submit', class: 'btn btn-primary btn-small' }, 'Save role'),
      h('button', { type: 'button', class: 'btn btn-small', onclick: () => done(false) }, 'Cancel'),
    ),
    error,
  );
  return form;
}

function memberRow(ctx, detail, member, reload) {
  const isOwnerRow = member.role === 'owner';
  const me = ctx.me && ctx.me.id === member.user_id;
  const hh = encodeURIComponent(ctx.household.id);
  const cars = detail.cars.map((car) => {
    const grant = member.cars.find((g) => g.car_id === car.id) || null;
    const slot = h('div', { class: 'member-form' });
    const tools = [];
    if (ctx.isOwner && !isOwnerRow) {
      tools.push(
        h(
          'button',
          {
            type: 'button',
            class: 'btn btn-small',
            'data-test': 'member-role-edit',
            onclick: () =>
              replace(
                slot,
                roleForm(ctx, member, car, grant, (changed = true) => {
                  replace(slot);
                  if (changed) reload();
                }),
              ),
          },
          grant ? 'Change' : 'Give a role',
        ),
      );
      if (grant) {
        tools.push(
          confirmButton({
            label: 'Revoke',
            question: `Take ${member.display_name}'s role for ${car.name} back?`,
            yes: 'Revoke',
            test: 'member-revoke',
            action: async () => {
              try {
                await ctx.api.del(grantUrl(ctx, car.id, member.user_id));
                ctx.toast(`${member.display_name} has no role for ${car.name} any more.`);
                reload();
              } catch (err) {
                ctx.toast(err.message, 'error');
              }
            },
          }),
        );
      }
    }
    return h(
      'li',
      { class: 'member-car' },
      h('span', { class: 'member-car-name' }, car.name),
      h(
        'span',
        {
          class: `badge ${grant ? 'badge-info' : ''}`,
          'data-test': 'member-role',
          'data-car': car.id,
          'data-role': grant ? grant.role : 'none',
        },
        grant ? roleText(grant) : 'no role',
      ),
      tools,
      slot,
    );
  });

  let leaveOrRemove = null;
  if (ctx.isOwner && !isOwnerRow) {
    leaveOrRemove = confirmButton({
      label: 'Remove from household',
      question: `Remove ${member.display_name}? Their roles for the cars end too.`,
      yes: 'Remove',
      test: 'member-remove',
      action: async () => {
        try {
          await ctx.api.del(`/households/${hh}/members/${encodeURIComponent(member.user_id)}`);
          ctx.toast(`${member.display_name} was removed.`);
          reload();
        } catch (err) {
          ctx.toast(err.message, 'error');
        }
      },
    });
  } else if (me && !isOwnerRow) {
    leaveOrRemove = confirmButton({
      label: 'Leave household',
      question: `Leave ${ctx.household.name}? You lose your roles for its cars.`,
      yes: 'Leave',
      test: 'member-leave',
      action: async () => {
        try {
          await ctx.api.del(`/households/${hh}/members/${encodeURIComponent(member.user_id)}`);
          ctx.toast(`You left ${ctx.household.name}.`);
          // Everything the app shows depends on the household: start again from the top.
          location.hash = '#/car';
          location.reload();
        } catch (err) {
          ctx.toast(err.message, 'error');
        }
      },
    });
  }

  return h(
    'li',
    { class: 'member-row', 'data-test': 'member-row', 'data-user': member.user_id },
    h(
      'div',
      { class: 'member-head' },
      h('strong', {}, member.display_name, me ? ' (you)' : ''),
      member.email ? h('span', { class: 'muted' }, member.email) : null,
      h(
        'span',
        { class: `badge ${isOwnerRow ? 'badge-ok' : ''}` },
        isOwnerRow ? 'owner' : 'member',
      ),
      h('span', { class: 'muted member-joined' }, `joined ${fmt.time(member.joined_at)}`),
    ),
    detail.cars.length ? h('ul', { class: 'member-cars' }, cars) : null,
    leaveOrRemove ? h('div', { class: 'row' }, leaveOrRemove) : null,
  );
}

/** The owner's invite form and the open invites. */
function invites(ctx) {
  const url = `/households/${encodeURIComponent(ctx.household.id)}/invites`;
  const list = h('ul', { class: 'invite-list' });
  const made = h('div', { class: 'invite-made', 'aria-live': 'polite' });
  const email = h('input', {
    type: 'email',
    id: 'invite-email',
    autocomplete: 'off',
    placeholder: 'anyone with the code',
  });
  const hours = h('input', {
    type: 'number',
    id: 'invite-hours',
    min: 1,
    max: 720,
    step: 1,
    value: 72,
  });
  const error = h('p', { class: 'error-text', role: 'alert' });

  async function load() {
    const open = await ctx.api.get(url);
    replace(
      list,
      ...open.map((inv) =>
        h(
          'li',
          { class: 'invite-row', 'data-invite': inv.id },
          h('span', {}, inv.email || 'anyone with the code'),
          h('span', { class: 'muted' }, ` · until ${fmt.time(inv.expires_at)}`),
          confirmButton({
            label: 'Cancel invite',
            question: 'Cancel this invite? Its code stops working.',
            yes: 'Cancel invite',
            test: 'invite-cancel',
            action: async () => {
              try {
                await ctx.api.del(`${url}/${encodeURIComponent(inv.id)}`);
                await load();
              } catch (err) {
                ctx.toast(err.message, 'error');
              }
            },
          }),
        ),
      ),
    );
    if (!open.length) list.append(h('li', { class: 'muted' }, 'No open invites.'));
  }

  const form = h(
    'form',
    {
      class: 'invite-form',
      onsubmit: async (e) => {
        e.preventDefault();
        error.textContent = '';
        const valid = Number(hours.value);
        if (!Number.isInteger(valid) || valid < 1 || valid > 720) {
          error.textContent = 'The invite must be valid for 1 to 720 hours.';
          return;
        }
        const body = { expires_in_h: valid };
        if (email.value.trim()) body.email = email.value.trim();
        try {
          const invite = await ctx.api.post(url, body);
          const code = h('code', { class: 'invite-code', 'data-test': 'invite-code' }, invite.code);
          replace(
            made,
            h('p', {}, 'Pass this code on (it is shown only now):'),
            h(
              'div',
              { class: 'row' },
              code,
              navigator.clipboard
                ? h(
                    'button',
                    {
                      type: 'button',
                      class: 'btn btn-small',
                      onclick: () =>
                        navigator.clipboard.writeText(invite.code).then(
                          () => ctx.toast('Copied.'),
                          () => ctx.toast('Could not copy; select the code instead.', 'error'),
                        ),
                    },
                    'Copy',
                  )
                : null,
            ),
            h(
              'p',
              { class: 'hint' },
              `${invite.email ? `Only ${invite.email} can use it` : 'Anyone with it can join'}, ` +
                `until ${fmt.time(invite.expires_at)}.`,
            ),
          );
          email.value = '';
          await load();
        } catch (err) {
          error.textContent = err.message;
        }
      },
    },
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'invite-email' }, 'E-mail address (optional)'),
      email,
    ),
    h('div', { class: 'field' }, h('label', { for: 'invite-hours' }, 'Valid for (hours)'), hours),
    h(
      'button',
      { type: 'submit', class: 'btn btn-primary', 'data-test': 'invite-create' },
      'Create invite',
    ),
    error,
  );

  return {
    el: h(
      'section',
      { class: 'card invites', 'aria-labelledby': 'invites-title' },
      h('h2', { id: 'invites-title' }, 'Invite someone'),
      form,
      made,
      h('h3', {}, 'Open invites'),
      list,
    ),
    load,
  };
}

export async function mount(el, ctx) {
  if (!ctx.household) {
    el.append(h('h1', {}, 'Household'), h('p', { class: 'empty' }, 'You are in no household.'));
    return undefined;
  }
  const title = h('h1', {}, ctx.household.name);
  const members = h('ul', { class: 'member-list', 'data-test': 'household-members' });
  const invite = ctx.isOwner ? invites(ctx) : null;

  async function load() {
    const detail = await ctx.api.get(`/households/${encodeURIComponent(ctx.household.id)}`);
    title.textContent = detail.name;
    replace(
      members,
      ...detail.members.map((m) =>
        memberRow(ctx, detail, m, () => load().catch((err) => ctx.toast(err.message, 'error'))),
      ),
    );
  }

  el.append(
    h(
      'div',
      { class: 'view-head' },
      title,
      h('span', { class: 'badge' }, ctx.isOwner ? 'you own it' : 'you are a member'),
    ),
    h(
      'div',
      { class: 'household-grid' },
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'members-title' },
        h('h2', { id: 'members-title' }, 'Members'),
        members,
      ),
      invite
        ? invite.el
        : h('p', { class: 'muted card' }, 'Only the owner invites people and gives roles.'),
    ),
  );
  await Promise.all([load(), invite && invite.load()]);
  const off = ctx.live.on('resync', () => load().catch(() => {}));
  return off;
}
