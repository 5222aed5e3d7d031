// Remote commands from this browser: what the person's role may send, signing a command with
// this browser's key for the car's current boot and clock, posting it, and following its states
// (the POST's answer, then live `command` messages, re-read after a reconnect) until the car's
// final word. Also whether the car has enrolled this browser's key yet.

import { worldClock } from './dom.js';
import { cryptoAvailable, dropKey, enrollmentState, loadKey } from './keys.js';
import { commandFields, MAX_TTL_S, signEnvelope } from './signing.js';

export const FINAL_STATES = new Set(['executed', 'rejected', 'failed', 'expired']);
const RANK = { requested: 0, delivered: 1, accepted: 2 };
const rank = (state) => (state in RANK ? RANK[state] : 3);
// Live command messages that came before the POST's answer told us the command's id.
const EARLY_KEEP_MS = 15_000;
// Re-read a command that has no final state yet this long after sending (a live message lost).
const CHECK_AFTER_MS = [3000, 10_000, 30_000];
const ENROLL_FAST_MS = 2000;
const ENROLL_FAST_FOR_MS = 60_000;
const ENROLL_SLOW_MS = 10_000;

export const NO_CRYPTO =
  'Remote commands need a secure connection (HTTPS or localhost).';

/** One sent command's states; ``onChange(fn)`` calls fn(state, reasonText) now and on change. */
class Tracker {
  constructor(carId, name) {
    this.carId = carId;
    this.name = name;
    this.id = null;
    this.state = 'requested';
    this.reason = '';
    this.listeners = new Set();
  }

  get final() {
    return FINAL_STATES.has(this.state);
  }

  onChange(fn) {
    this.listeners.add(fn);
    fn(this.state, this.reason);
    return () => this.listeners.delete(fn);
  }

  /** A state seen somewhere; states only move forward (a late 'delivered' changes nothing). */
  update(state, reasonText) {
    if (this.final || rank(state) <= rank(this.state)) return;
    this.state = state;
    this.reason = reasonText || '';
    for (const fn of this.listeners) fn(this.state, this.reason);
  }

  applyRecord(record) {
    for (const s of record.states || []) this.update(s.state, s.reason_text || s.reason);
    this.update(record.state, '');
  }
}

function counterKey(keyId, carId) {
  return `smartev.counter.${keyId}.${carId}`;
}

/** The next counter, stored before it is used: a reload never signs with the same one twice. */
function nextCounter(keyId, carId, lastFromCloud) {
  let stored = 0;
  try {
    stored = Number(localStorage.getItem(counterKey(keyId, carId))) || 0;
  } catch {
    // storage disabled: the cloud's count alone
  }
  const next = Math.max(stored, lastFromCloud || 0) + 1;
  try {
    localStorage.setItem(counterKey(keyId, carId), String(next));
  } catch {
    // as above
  }
  return next;
}

export function createCommands(initialCtx) {
  let ctx = initialCtx;
  let keyPromise = null;
  const allowed = new Map(); // car id → Set of command names (from the command session)
  const trackers = new Map(); // command id → Tracker
  const early = new Map(); // command id → [live message, …]
  const timers = new Set();
  const offs = [];

  function later(fn, ms) {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  }

  function key(options) {
    if (!keyPromise || options) {
      keyPromise = loadKey(ctx.api, ctx.me.id, options);
      keyPromise.catch(() => {
        keyPromise = null; // try again next time
      });
    }
    return keyPromise;
  }

  async function session(carId, keyId) {
    const answer = await ctx.api.get(`/cars/${encodeURIComponent(carId)}/command-session`, {
      key_id: keyId,
    });
    const fetchedAt = performance.now();
    allowed.set(carId, new Set(answer.allowed_commands));
    worldClock.sync(answer.car_time_us / 1000, answer.clock_speed);
    return { answer, fetchedAt };
  }

  function onLiveCommand(message) {
    const tracker = trackers.get(message.id);
    if (tracker) {
      tracker.update(message.state, message.reason_text || message.reason);
      if (tracker.final) trackers.delete(message.id);
      return;
    }
    const list = early.get(message.id) || [];
    list.push(message);
    early.set(message.id, list);
    later(() => early.delete(message.id), EARLY_KEEP_MS);
  }

  async function recheck(tracker) {
    if (tracker.final || !tracker.id) return;
    try {
      const path = `/cars/${encodeURIComponent(tracker.carId)}/commands/${tracker.id}`;
      tracker.applyRecord(await ctx.api.get(path));
    } catch {
      // the next check, or the live message, will tell
    }
    if (tracker.final) trackers.delete(tracker.id);
  }

  async function run(tracker, carId, name, args) {
    if (!cryptoAvailable()) {
      tracker.update('failed', NO_CRYPTO);
      return;
    }
    try {
      const k = await key();
      const { answer, fetchedAt } = await session(carId, k.keyId);
      if (!answer.epoch) {
        tracker.update(
          'failed',
          'The car is offline; a command needs its current boot, so try again when it is online.',
        );
        return;
      }
      const counter = nextCounter(k.keyId, carId, answer.last_counter);
      // The car's clock now: its time when the session was read, moved on by the real time
      // since then at the car clock's speed (60× in the demo world).
      const speed = answer.clock_speed || 0;
      const issuedAtUs = Math.round(
        answer.car_time_us + (performance.now() - fetchedAt) * 1000 * speed,
      );
      const ttlS = Math.min(answer.max_ttl_s || MAX_TTL_S, MAX_TTL_S);
      const fields = commandFields({
        carId,
        name,
        args,
        epoch: answer.epoch,
        counter,
        issuedAtUs,
        expiresAtUs: issuedAtUs + Math.round(ttlS * 1e6),
        keyId: k.keyId,
      });
      const envelope = await signEnvelope(k.privateKey, fields);
      const record = await ctx.api.post(`/cars/${encodeURIComponent(carId)}/commands`, {
        envelope,
      });
      tracker.id = record.id;
      trackers.set(record.id, tracker);
      tracker.applyRecord(record);
      for (const message of early.get(record.id) || []) onLiveCommand(message);
      early.delete(record.id);
      for (const ms of CHECK_AFTER_MS) later(() => recheck(tracker), ms);
    } catch (err) {
      tracker.update('failed', err.message || String(err));
    }
  }

  return {
    /** Take the (new) signed-in context; subscribes to the live socket once. */
    bind(newCtx) {
      ctx = newCtx;
      if (!offs.length) {
        offs.push(ctx.live.on('command', onLiveCommand));
        offs.push(
          ctx.live.on('resync', () => {
            for (const tracker of trackers.values()) recheck(tracker);
          }),
        );
      }
    },

    /** Whether the person's role may send ``name`` to the car. */
    can(carId, name) {
      if (allowed.has(carId)) return allowed.get(carId).has(name);
      const car = (ctx.cars || []).find((c) => c.car_id === carId);
      return Boolean(car && (car.commands || []).includes(name));
    },

    /** Sign and send a command; the tracker follows its states. */
    send(carId, name, args = {}) {
      const tracker = new Tracker(carId, name);
      run(tracker, carId, name, args);
      return tracker;
    },

    /** Read the command session now (the role's commands, the car's clock). */
    async refreshSession(carId) {
      if (!cryptoAvailable()) return null;
      const k = await key();
      return (await session(carId, k.keyId)).answer;
    },

    /**
     * Follow whether the car takes this browser's key: fn(state) with 'enrolled', 'pending',
     * 'revoked', 'unsupported' (no WebCrypto here) or 'error' (with the error). Polls every 2 s
     * for a minute, then every 10 s, until enrolled or revoked. Returns the stop function.
     */
    watchEnrollment(carId, fn) {
      let stopped = false;
      let timer = null;
      const started = performance.now();
      if (!cryptoAvailable()) {
        fn('unsupported');
        return () => {};
      }
      async function poll() {
        let state;
        try {
          const k = await key();
          state = await enrollmentState(ctx.api, k.keyId, carId);
          if (state === 'unregistered') {
            // The cloud forgot the key (its data was reset): register it again.
            await key({ reRegister: true });
            state = 'pending';
          }
          if (stopped) return;
          fn(state);
        } catch (err) {
          if (stopped) return;
          fn('error', err);
        }
        if (stopped || state === 'enrolled' || state === 'revoked') return;
        const fast = performance.now() - started < ENROLL_FAST_FOR_MS;
        timer = setTimeout(poll, fast ? ENROLL_FAST_MS : ENROLL_SLOW_MS);
      }
      poll();
      return () => {
        stopped = true;
        clearTimeout(timer);
      };
    },

    /** Forget this browser's key for the person (it is replaced at the next command). */
    async resetKey() {
      keyPromise = null;
      await dropKey(ctx.me.id);
    },

    stop() {
      for (const off of offs.splice(0)) off();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      trackers.clear();
      early.clear();
      keyPromise = null;
    },
  };
}
