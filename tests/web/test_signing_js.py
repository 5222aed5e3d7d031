"""The browser's signed commands against Python's: lib/msgpack.js must give the bytes of
``msgpack.packb(value, use_bin_type=True)``, and a command signed in the page with a WebCrypto
P-256 key must decode with :func:`smartev.link.signing.decode_envelope`, verify with the page's
public key and pass the car's argument checks, for every command of the car's table.

The page is the real app served by a real cloud on 127.0.0.1 (a secure context, so WebCrypto is
there); the modules are imported into it as the app imports them.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack  # type: ignore[import-untyped,unused-ignore]  # no stubs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from playwright.sync_api import Browser, Page

from smartev.link.signing import (
    SignedCommand,
    decode_envelope,
    key_id,
    load_public_key,
    verify_signature,
)
from smartev.vehicle.command_table import COMMANDS
from tests.cloud.server import START, running_cloud
from tests.web.conftest import DESKTOP

# --- the page -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("cloud")
    with running_cloud(f"sqlite:///{data}/cloud.db", data) as cloud:
        yield cloud.base_url


@pytest.fixture(scope="module")
def app_page(browser: Browser, app_url: str) -> Iterator[Page]:
    """One page for the module (hypothesis runs many examples in it): the app's login screen,
    with lib/msgpack.js and lib/signing.js imported as ``window.mp`` and ``window.sg``."""
    context = browser.new_context(viewport=DESKTOP)  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(app_url + "/")
    page.wait_for_selector("[data-test=login-email]")
    page.evaluate(
        """async () => {
          window.mp = await import('/app/lib/msgpack.js');
          window.sg = await import('/app/lib/signing.js');
        }"""
    )
    try:
        yield page
    finally:
        context.close()


# Values travel to the page tagged, so that nothing is lost in JSON: integers as decimal text
# (a BigInt beyond 2^53), floats as their 8 IEEE bytes (so 1.0, -0.0 and infinities stay
# floats), bytes as hex; lists, strings, booleans and None as they are.
_DECODE_TAGGED = """
  window.untag = (v) => {
    if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
    if (Array.isArray(v)) return v.map(window.untag);
    if ('i' in v) {
      const big = BigInt(v.i);
      return Number.isSafeInteger(Number(v.i)) && BigInt(Number(v.i)) === big ? Number(v.i) : big;
    }
    if ('f' in v) {
      const bits = new DataView(window.sg.hexToBytes(v.f).buffer);
      return new window.mp.Float64(bits.getFloat64(0));
    }
    if ('n' in v) return v.n;
    return window.sg.hexToBytes(v.b);
  };
"""


def tag(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return {"i": str(value)}
    if isinstance(value, float):
        return {"f": struct.pack(">d", value).hex()}
    if isinstance(value, bytes):
        return {"b": value.hex()}
    assert isinstance(value, list)
    return [tag(v) for v in value]


def packed_in_page(page: Page, values: list[Any]) -> list[str]:
    # One JSON string: Playwright's own serialisation of 100,000 nested values is slow.
    result: list[str] = page.evaluate(
        "(text) => {"
        + _DECODE_TAGGED
        + """
          const packed = JSON.parse(text).map((v) => window.mp.encode(window.untag(v)));
          return packed.map(window.sg.bytesToHex);
        }""",
        json.dumps([tag(v) for v in values]),
    )
    return result


def packed_in_python(values: list[Any]) -> list[str]:
    return [msgpack.packb(v, use_bin_type=True).hex() for v in values]


# --- msgpack --------------------------------------------------------------------------------------

_INT_EDGES = [
    0,
    1,
    127,
    128,
    255,
    256,
    65535,
    65536,
    2**32 - 1,
    2**32,
    2**53 - 1,
    2**53,
    2**53 + 1,
    2**63 - 1,
    2**63,
    2**64 - 1,
    -1,
    -32,
    -33,
    -128,
    -129,
    -32768,
    -32769,
    -(2**31),
    -(2**31) - 1,
    -(2**53) + 1,
    -(2**53),
    -(2**63),
]
_LENGTHS = [0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536]


def edge_values() -> list[Any]:
    values: list[Any] = [None, True, False, *_INT_EDGES]
    values += [0.0, -0.0, 1.0, 21.0, 21.5, -1.5, 1e300, 5e-324, math.inf, -math.inf]
    values += ["a" * n for n in _LENGTHS]
    values += ["é" * 16, "é" * 127 + "a", "é" * 128, "€" * 21845, "€" * 21846, "🚗" * 8]
    values += [bytes(range(256)) * (n // 256) + bytes(n % 256) for n in _LENGTHS]
    values += [list(range(n)) for n in (0, 15, 16, 65535, 65536)]
    values += [[[[]]], [None, [True, [b"\x00", ["x", [1.5]]]]]]
    return values


def test_msgpack_js_packs_every_width_boundary_like_python(app_page: Page) -> None:
    values = edge_values()
    assert packed_in_page(app_page, values) == packed_in_python(values)


def test_msgpack_js_packs_plain_numbers_by_value(app_page: Page) -> None:
    """An untagged JS number: integral ones are integers, the others float64."""
    got = app_page.evaluate(
        "(xs) => xs.map((x) => window.sg.bytesToHex(window.mp.encode(x)))", [0, 7, -7, 1.5, 2.0]
    )
    assert got == packed_in_python([0, 7, -7, 1.5, 2])


def test_msgpack_js_refuses_what_it_cannot_encode_exactly(app_page: Page) -> None:
    errors = app_page.evaluate(
        """() => [2 ** 53, undefined, {a: 1}, 2n ** 64n, -(2n ** 63n) - 1n, '\\ud800'].map((v) => {
          try { window.mp.encode(v); return null; } catch (e) { return e.message; }
        })"""
    )
    assert all(errors), errors
    assert "BigInt" in errors[0]


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.sampled_from(_INT_EDGES),
    st.floats(allow_nan=False),
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=300),
    st.binary(max_size=300),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=20), max_leaves=30)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(values, min_size=40, max_size=40))
def test_msgpack_js_matches_python_on_random_values(app_page: Page, batch: list[Any]) -> None:
    assert packed_in_page(app_page, batch) == packed_in_python(batch)


# --- signed commands ----------------------------------------------------------------------------

_CAR = "LSV1E2E3X4Y5Z6789"
_EPOCH = bytes(range(16))
_ISSUED_US = int(START.timestamp() * 1_000_000)
_PUBLIC = "04" + "ab" * 64
# Arguments for every command of the car's table; the set point both whole and not.
_ARGS: dict[str, list[dict[str, Any]]] = {
    "trunk.open": [{}, {"trunk": "front"}],
    "trunk.close": [{"trunk": "rear"}],
    "charge_limit.set": [{"percent": 50}, {"percent": 100}],
    "hvac.set": [{"temp_c": 21}, {"temp_c": 21.5}, {"temp_c": 15}],
    "key.enroll": [
        {"public_key": _PUBLIC, "role": "guest", "label": "Browser on Linux"},
        {
            "public_key": "cd" * 32,
            "role": "driver",
            "label": "Phone – Zoë",
            "valid_from_us": _ISSUED_US,
            "valid_until_us": _ISSUED_US + 365 * 86_400 * 1_000_000,
        },
    ],
    "key.revoke": [{"key_id": "0123456789abcdef"}],
}
CASES = [(name, args) for name in sorted(COMMANDS) for args in _ARGS.get(name, [{}])]


def test_the_cases_cover_every_command_of_the_car() -> None:
    assert {name for name, _ in CASES} == set(COMMANDS)


def test_commands_signed_in_the_page_verify_in_python(app_page: Page) -> None:
    signed = app_page.evaluate(
        """async ({cases, carId, epoch, issued}) => {
          const pair = await crypto.subtle.generateKey(
            {name: 'ECDSA', namedCurve: 'P-256'}, false, ['sign', 'verify']);
          const pub = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
          const keyId = await window.sg.keyIdOf(pub);
          const envelopes = [];
          for (const [i, [name, args]] of cases.entries()) {
            const fields = window.sg.commandFields({
              carId, name, args, epoch, counter: i + 1, issuedAtUs: issued,
              expiresAtUs: issued + 60_000_000, keyId,
            });
            envelopes.push(await window.sg.signEnvelope(pair.privateKey, fields));
          }
          return {pub: window.sg.bytesToHex(pub), keyId, envelopes};
        }""",
        {"cases": CASES, "carId": _CAR, "epoch": _EPOCH.hex(), "issued": _ISSUED_US},
    )
    public = bytes.fromhex(signed["pub"])
    assert len(public) == 65
    assert public[0] == 4
    assert signed["keyId"] == key_id(public)
    verifier = load_public_key(public)
    for i, ((name, args), envelope) in enumerate(zip(CASES, signed["envelopes"], strict=True)):
        command = decode_envelope(base64.b64decode(envelope))
        assert verify_signature(verifier, command), (name, args)
        c = command.command
        assert (c.car_id, c.name, c.epoch, c.counter, c.key_id) == (
            _CAR,
            name,
            _EPOCH,
            i + 1,
            signed["keyId"],
        )
        assert (c.issued_at_us, c.expires_at_us) == (_ISSUED_US, _ISSUED_US + 60_000_000)
        assert dict(c.args) == args
        COMMANDS[name].check_args(c.args)  # what the car checks after the signature
        if name == "hvac.set":
            assert type(c.args["temp_c"]) is float  # a set point is a float, even 21
        if name == "charge_limit.set":
            assert type(c.args["percent"]) is int
        # One changed bit anywhere in the signature, and it no longer verifies.
        forged = bytearray(command.signature)
        forged[i % 64] ^= 0x01
        assert not verify_signature(verifier, SignedCommand(c, bytes(forged)))


def test_signing_refuses_a_fractional_percent_and_a_short_epoch(app_page: Page) -> None:
    errors = app_page.evaluate(
        """() => [
          {name: 'charge_limit.set', args: {percent: 80.5}, epoch: '00'.repeat(16)},
          {name: 'door.lock', args: {}, epoch: '00'.repeat(8)},
        ].map(({name, args, epoch}) => {
          try {
            window.sg.commandFields({carId: 'CAR1', name, args, epoch, counter: 1,
              issuedAtUs: 1, expiresAtUs: 2, keyId: '0123456789abcdef'});
            return null;
          } catch (e) { return e.message; }
        })"""
    )
    assert "integer" in errors[0]
    assert "16 bytes" in errors[1]


def test_the_web_files_exist_where_the_cloud_serves_them() -> None:
    web = Path(__file__).resolve().parents[2] / "src" / "smartev" / "web"
    for name in ("index.html", "style.css", "app.js", "lib/msgpack.js", "lib/signing.js"):
        assert (web / name).is_file(), name
