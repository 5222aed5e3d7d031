// Signed remote commands, byte for byte as smartev.link.signing builds them: the command's
// fields in their fixed order, the domain-separated payload the signature covers, the ECDSA
// P-256 / SHA-256 signature (WebCrypto's raw r || s, 64 bytes: the form the car verifies), and
// the envelope posted to the cloud as base64.

import { encode, Float64 } from './msgpack.js';

const DOMAIN = new TextEncoder().encode('smartev-command-v1\u0000');
const ENVELOPE_VERSION = 1;
export const MAX_TTL_S = 60;

// The type of each argument whose JSON number could be read either way. The car accepts an
// integer where it wants a float, but a set point of 21 is a float like 21.5: packing it as one
// keeps every set point the same msgpack type. Integers are the default for integral numbers.
const ARG_TYPES = {
  'hvac.set': { temp_c: 'float' },
  'charge_limit.set': { percent: 'int' },
  'key.enroll': { valid_from_us: 'int', valid_until_us: 'int' },
};

function typedArg(name, arg, value) {
  const kind = (ARG_TYPES[name] || {})[arg];
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new RangeError(`argument ${arg} must be a finite number`);
    if (kind === 'float') return new Float64(value);
    if (kind === 'int' && !Number.isInteger(value)) {
      throw new RangeError(`argument ${arg} of ${name} must be an integer, not ${value}`);
    }
    return value;
  }
  if (typeof value === 'boolean' || typeof value === 'string') return value;
  throw new TypeError(`argument ${arg} must be a boolean, number or string`);
}

export function hexToBytes(hex) {
  if (typeof hex !== 'string' || hex.length % 2 || /[^0-9a-fA-F]/.test(hex)) {
    throw new TypeError('not a hex string');
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i += 1) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function bytesToBase64(bytes) {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * The command's fields in wire order (what Command.fields() gives in Python). ``epoch``: 16
 * bytes (Uint8Array or hex); times: integers, microseconds on the car's clock.
 */
export function commandFields({
  carId,
  name,
  args = {},
  epoch,
  counter,
  issuedAtUs,
  expiresAtUs,
  keyId,
}) {
  const epochBytes = typeof epoch === 'string' ? hexToBytes(epoch) : epoch;
  if (!(epochBytes instanceof Uint8Array) || epochBytes.length !== 16) {
    throw new TypeError('epoch must be 16 bytes');
  }
  for (const [field, value] of [
    ['counter', counter],
    ['issuedAtUs', issuedAtUs],
    ['expiresAtUs', expiresAtUs],
  ]) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`${field} must be a non-negative integer, not ${value}`);
    }
  }
  const pairs = Object.keys(args)
    .sort() // the canonical order: by name (plain code-point order, as Python sorts)
    .map((arg) => [arg, typedArg(name, arg, args[arg])]);
  return [carId, name, pairs, epochBytes, counter, issuedAtUs, expiresAtUs, keyId];
}

/** The exact bytes the signature covers. */
export function signedPayload(fields) {
  return concat(DOMAIN, encode(fields));
}

/** Sign ``fields`` with a WebCrypto ECDSA P-256 private key; the envelope as base64. */
export async function signEnvelope(privateKey, fields) {
  const signature = new Uint8Array(
    await crypto.subtle.sign(
      { name: 'ECDSA', hash: 'SHA-256' },
      privateKey,
      signedPayload(fields),
    ),
  );
  return bytesToBase64(encode([ENVELOPE_VERSION, fields, signature]));
}

/** The key's short name: the first 16 hex digits of SHA-256 over its raw public key. */
export async function keyIdOf(publicKeyBytes) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', publicKeyBytes));
  return bytesToHex(digest).slice(0, 16);
}
