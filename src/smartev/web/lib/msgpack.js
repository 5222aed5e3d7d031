// A msgpack encoder whose bytes equal Python's msgpack.packb(value, use_bin_type=True): a signed
// command covers msgpack bytes, and the car re-encodes what it decoded to check the signature, so
// one byte of difference is a bad signature. Only what commands use: nil, booleans, integers
// (smallest encoding), float64, UTF-8 strings, binary (Uint8Array) and arrays.
//
// JavaScript numbers do not say whether 21 is an integer or 21.0: an integral number is packed
// as an integer; wrap a value in Float64 to pack it as a float whatever its value. Integers
// beyond 2^53 need a BigInt (a Number cannot hold them exactly).

export class Float64 {
  constructor(value) {
    if (typeof value !== 'number') {
      throw new TypeError(`Float64 wants a number, got ${typeof value}`);
    }
    this.value = value;
  }
}

const MAX_U64 = (1n << 64n) - 1n;
const MIN_I64 = -(1n << 63n);
const utf8 = new TextEncoder();

class Writer {
  constructor() {
    this.bytes = new Uint8Array(64);
    this.view = new DataView(this.bytes.buffer);
    this.length = 0;
  }

  reserve(n) {
    if (this.length + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.length + n) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.bytes.subarray(0, this.length));
    this.bytes = bigger;
    this.view = new DataView(bigger.buffer);
  }

  u8(x) {
    this.reserve(1);
    this.view.setUint8(this.length, x);
    this.length += 1;
  }

  u16(x) {
    this.reserve(2);
    this.view.setUint16(this.length, x);
    this.length += 2;
  }

  u32(x) {
    this.reserve(4);
    this.view.setUint32(this.length, x);
    this.length += 4;
  }

  big64(x, signed) {
    this.reserve(8);
    if (signed) this.view.setBigInt64(this.length, x);
    else this.view.setBigUint64(this.length, x);
    this.length += 8;
  }

  f64(x) {
    this.reserve(8);
    this.view.setFloat64(this.length, x);
    this.length += 8;
  }

  raw(data) {
    this.reserve(data.length);
    this.bytes.set(data, this.length);
    this.length += data.length;
  }

  result() {
    return this.bytes.slice(0, this.length);
  }
}

function packInt(w, x) {
  // x: a BigInt in the int64/uint64 range; the smallest encoding, as msgpack-python picks it.
  if (x >= 0n) {
    if (x < 0x80n) w.u8(Number(x));
    else if (x <= 0xffn) {
      w.u8(0xcc);
      w.u8(Number(x));
    } else if (x <= 0xffffn) {
      w.u8(0xcd);
      w.u16(Number(x));
    } else if (x <= 0xffffffffn) {
      w.u8(0xce);
      w.u32(Number(x));
    } else {
      w.u8(0xcf);
      w.big64(x, false);
    }
  } else if (x >= -32n) {
    w.u8(Number(x) & 0xff); // negative fixint 0xe0..0xff
  } else if (x >= -0x80n) {
    w.u8(0xd0);
    w.u8(Number(x) & 0xff);
  } else if (x >= -0x8000n) {
    w.u8(0xd1);
    w.u16(Number(x) & 0xffff);
  } else if (x >= -0x80000000n) {
    w.u8(0xd2);
    w.u32(Number(x) >>> 0);
  } else {
    w.u8(0xd3);
    w.big64(x, true);
  }
}

function packLength(w, n, [small, smallMax], [c8, c16, c32]) {
  if (small !== null && n <= smallMax) w.u8(small | n);
  else if (c8 !== null && n <= 0xff) {
    w.u8(c8);
    w.u8(n);
  } else if (n <= 0xffff) {
    w.u8(c16);
    w.u16(n);
  } else if (n <= 0xffffffff) {
    w.u8(c32);
    w.u32(n);
  } else {
    throw new RangeError(`${n} items or bytes are too many for msgpack (at most 2^32 - 1)`);
  }
}

function pack(w, value, depth) {
  if (depth > 64) throw new RangeError('nested more than 64 levels deep: refusing to encode');
  if (value === null) {
    w.u8(0xc0);
  } else if (value === true || value === false) {
    w.u8(value ? 0xc3 : 0xc2);
  } else if (typeof value === 'bigint') {
    if (value < MIN_I64 || value > MAX_U64) {
      throw new RangeError(`integer ${value} does not fit msgpack (-2^63 .. 2^64 - 1)`);
    }
    packInt(w, value);
  } else if (typeof value === 'number') {
    if (Number.isInteger(value)) {
      if (!Number.isSafeInteger(value)) {
        throw new RangeError(
          `integer ${value} is beyond 2^53 and not exact as a Number: pass it as a BigInt`,
        );
      }
      packInt(w, BigInt(value));
    } else {
      w.u8(0xcb); // NaN and ±Infinity too, as Python packs a float
      w.f64(value);
    }
  } else if (value instanceof Float64) {
    w.u8(0xcb);
    w.f64(value.value);
  } else if (typeof value === 'string') {
    if (typeof value.isWellFormed === 'function' && !value.isWellFormed()) {
      throw new TypeError('string has an unpaired surrogate: it has no UTF-8 form');
    }
    const data = utf8.encode(value);
    packLength(w, data.length, [0xa0, 31], [0xd9, 0xda, 0xdb]);
    w.raw(data);
  } else if (value instanceof Uint8Array || value instanceof ArrayBuffer) {
    const data = value instanceof Uint8Array ? value : new Uint8Array(value);
    packLength(w, data.length, [null, 0], [0xc4, 0xc5, 0xc6]);
    w.raw(data);
  } else if (Array.isArray(value)) {
    packLength(w, value.length, [0x90, 15], [null, 0xdc, 0xdd]);
    for (const item of value) pack(w, item, depth + 1);
  } else {
    const kind = value === undefined ? 'undefined' : value.constructor?.name || typeof value;
    throw new TypeError(
      `cannot encode ${kind}: use null, a boolean, a number, a BigInt, Float64, a string, ` +
        'a Uint8Array or an array',
    );
  }
}

/** The msgpack bytes of ``value`` (a Uint8Array). */
export function encode(value) {
  const w = new Writer();
  pack(w, value, 0);
  return w.result();
}
