// This browser's command key for one person: an ECDSA P-256 key pair made with WebCrypto, the
// private half non-extractable (script can use it to sign but never read it), kept in IndexedDB
// under the person's user id, and registered with the cloud so the car's owner can enroll it.

import { bytesToHex, keyIdOf } from './signing.js';

const DB_NAME = 'smartev-keys';
const STORE = 'keys';

/** Whether this page may use WebCrypto at all (only secure contexts: HTTPS or localhost). */
export function cryptoAvailable() {
  return Boolean(window.isSecureContext && window.crypto && window.crypto.subtle);
}

function openDb() {
  return new Promise((resolve, reject) => {
    if (!window.indexedDB) {
      reject(new Error('no IndexedDB'));
      return;
    }
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: 'userId' });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function withStore(mode, fn) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

async function makeKey(userId) {
  const pair = await crypto.subtle.generateKey(
    { name: 'ECDSA', namedCurve: 'P-256' },
    false, // the private key cannot be exported, not even by this page
    ['sign', 'verify'],
  );
  const publicKey = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  return {
    userId,
    privateKey: pair.privateKey,
    publicKeyHex: bytesToHex(publicKey),
    keyId: await keyIdOf(publicKey),
    registered: false,
  };
}

function platformName() {
  const data = navigator.userAgentData;
  const name = (data && data.platform) || navigator.platform || 'this device';
  return name.replace(/[\x00-\x1f\x7f]/g, '').slice(0, 40) || 'this device';
}

/**
 * The person's key in this browser, made and stored on first use, and registered with the cloud
 * (``POST /me/device-keys``) until that succeeded once, or again with ``reRegister`` (the cloud
 * no longer lists it: its data was reset). A key revoked here is replaced by a new one. Without
 * IndexedDB (some private modes) the key lives as long as the page.
 */
export async function loadKey(api, userId, { reRegister = false } = {}) {
  let record = null;
  let fresh = false;
  let persistent = true;
  try {
    record = await withStore('readonly', (store) => store.get(userId));
  } catch {
    persistent = false;
  }
  if (!record) {
    record = await makeKey(userId);
    fresh = true;
    if (persistent) {
      try {
        await withStore('readwrite', (store) => store.put(record));
      } catch {
        persistent = false;
      }
    }
  }
  if (!record.registered || reRegister) {
    try {
      await api.post('/me/device-keys', {
        public_key: record.publicKeyHex,
        label: `Browser on ${platformName()}`,
      });
    } catch (err) {
      // 409: this key was revoked here (or is someone else's): start over with a new one.
      if (err.status !== 409 || fresh) throw err;
      await dropKey(userId);
      return loadKey(api, userId);
    }
    record.registered = true;
    if (persistent) await withStore('readwrite', (store) => store.put(record));
  }
  return record;
}

/**
 * Whether the car will take this key's commands: 'enrolled', 'pending' (waiting for the owner
 * to add it) or 'revoked', from ``GET /me/device-keys``.
 */
export async function enrollmentState(api, keyId, carId) {
  const keys = await api.get('/me/device-keys');
  const mine = (Array.isArray(keys) ? keys : keys.keys || []).find((k) => k.key_id === keyId);
  if (!mine) return 'unregistered';
  if (mine.revoked_at) return 'revoked';
  const car = (mine.cars || []).find((c) => c.car_id === carId);
  return car ? car.state : 'pending';
}

/** Forget the stored key (when the cloud no longer knows it): the next load makes a new one. */
export async function dropKey(userId) {
  try {
    await withStore('readwrite', (store) => store.delete(userId));
  } catch {
    // nothing stored
  }
}
