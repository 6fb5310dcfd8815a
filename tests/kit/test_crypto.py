from __future__ import annotations

import base64
import uuid
from collections.abc import Callable

import pytest

from regentra.errors import RegentraError
from regentra.kit.crypto import (
    DecryptionError,
    Keyring,
    KeyringError,
    format_key_spec,
    generate_key,
    hint,
)

ORG = uuid.UUID("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
OTHER_ORG = uuid.UUID("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c")
PURPOSE = "stripe_api_key"
SECRET = "sk_live_51HxTOPSECRETvalue0123456789"

K1 = bytes(range(32))
K2 = bytes(range(100, 132))


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def body_of(envelope: str) -> bytes:
    body = envelope.split(".")[2]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


@pytest.fixture
def ring() -> Keyring:
    return Keyring([("k1", K1)])


# --- keys and specs -------------------------------------------------------------------------


def test_generate_key_is_32_random_bytes() -> None:
    a, b = generate_key(), generate_key()
    assert isinstance(a, bytes)
    assert len(a) == 32
    assert a != b


def test_format_key_spec_round_trips_through_from_spec() -> None:
    k1, k2 = generate_key(), generate_key()
    spec = format_key_spec([("k2", k2), ("k1", k1)])
    assert spec == f"k2:{b64(k2)},k1:{b64(k1)}"
    ring = Keyring.from_spec(spec)
    assert ring.active_key_id == "k2"
    assert ring.key_ids == ["k2", "k1"]
    envelope = ring.encrypt("x", org_id=ORG, purpose=PURPOSE)
    assert Keyring([("k2", k2)]).decrypt(envelope, org_id=ORG, purpose=PURPOSE) == "x"


def test_format_key_spec_validates() -> None:
    with pytest.raises(KeyringError, match="must be 32 bytes"):
        format_key_spec([("k1", b"short")])


def test_from_spec_tolerates_whitespace_and_urlsafe_unpadded_base64() -> None:
    # Keys chosen so standard base64 contains '+' and '/'.
    k1 = b"\xfb\xff" * 16
    k2 = b"\xff\xef" * 16
    assert "+" in b64(k1) + b64(k2) or "/" in b64(k1) + b64(k2)
    urlsafe = base64.urlsafe_b64encode(k2).decode().rstrip("=")
    ring = Keyring.from_spec(f"  k1 : {b64(k1)} ,\n k-2_x:{urlsafe}  ,")
    assert ring.key_ids == ["k1", "k-2_x"]
    envelope = ring.encrypt("x", org_id=ORG, purpose=PURPOSE)
    assert Keyring([("k1", k1)]).decrypt(envelope, org_id=ORG, purpose=PURPOSE) == "x"
    moved = Keyring([("k-2_x", k2), ("k1", k1)])
    assert moved.reencrypt(envelope, org_id=ORG, purpose=PURPOSE).startswith("v1.k-2_x.")


@pytest.mark.parametrize("spec", ["", "   ", ",", " , , "])
def test_from_spec_empty(spec: str) -> None:
    with pytest.raises(KeyringError, match="REGENTRA_ENCRYPTION_KEYS") as exc:
        Keyring.from_spec(spec)
    assert "kid:base64key" in exc.value.message


def test_from_spec_bad_base64() -> None:
    with pytest.raises(KeyringError) as exc:
        Keyring.from_spec(f"k1:{b64(K1)},k2:not*base64!")
    assert "'k2'" in exc.value.message
    assert "not valid base64" in exc.value.message
    assert "not*base64" not in exc.value.message


def test_from_spec_impossible_base64_length() -> None:
    with pytest.raises(KeyringError, match="'k1' is not valid base64"):
        Keyring.from_spec("k1:AAAAA")


def test_from_spec_wrong_length() -> None:
    with pytest.raises(KeyringError) as exc:
        Keyring.from_spec(f"k1:{b64(K1)},k2:{b64(bytes(16))}")
    assert exc.value.message == (
        "REGENTRA_ENCRYPTION_KEYS: key 'k2' must be 32 bytes (base64 of 32 random bytes), got 16"
    )
    assert exc.value.status == 500
    assert exc.value.code == "keyring_error"
    assert isinstance(exc.value, RegentraError)


def test_from_spec_duplicate_kid() -> None:
    with pytest.raises(KeyringError, match="'k1' appears more than once"):
        Keyring.from_spec(f"k1:{b64(K1)},k1:{b64(K2)}")


def test_from_spec_missing_colon_does_not_echo_the_key() -> None:
    with pytest.raises(KeyringError) as exc:
        Keyring.from_spec(b64(K1))
    assert "entry 1" in exc.value.message
    assert "kid:base64key" in exc.value.message
    assert b64(K1) not in exc.value.message


def test_from_spec_swapped_kid_and_key_does_not_echo_the_key() -> None:
    urlsafe = base64.urlsafe_b64encode(K1).decode().rstrip("=")
    with pytest.raises(KeyringError) as exc:
        Keyring.from_spec(f"{urlsafe}:k1")
    assert "key id of entry 1 is invalid" in exc.value.message
    assert urlsafe not in exc.value.message


@pytest.mark.parametrize("kid", ["", "has space", "dot.ted", "x" * 33, "colon:", "ünï"])
def test_invalid_key_ids(kid: str) -> None:
    with pytest.raises(KeyringError, match="key id of entry 1 is invalid"):
        Keyring([(kid, K1)])


def test_keyring_needs_a_key() -> None:
    with pytest.raises(KeyringError, match="at least one key"):
        Keyring([])


def test_keyring_rejects_a_spec_string() -> None:
    with pytest.raises(KeyringError, match="from_spec"):
        Keyring(f"k1:{b64(K1)}")  # type: ignore[arg-type]


def test_keyring_duplicate_and_length_errors() -> None:
    with pytest.raises(KeyringError, match="'a' appears more than once"):
        Keyring([("a", K1), ("a", K2)])
    with pytest.raises(KeyringError, match=r"'b' must be 32 bytes .* got 33"):
        Keyring([("a", K1), ("b", K2 + b"x")])


def test_repr_has_no_key_material() -> None:
    ring = Keyring([("k2", K2), ("k1", K1)])
    text = repr(ring)
    assert text == "Keyring(active_key_id='k2', key_ids=['k2', 'k1'])"
    for key in (K1, K2):
        assert b64(key) not in text
        assert key.hex() not in text
        assert repr(key) not in text
    assert not hasattr(ring, "__dict__")


# --- encrypt / decrypt ----------------------------------------------------------------------


@pytest.mark.parametrize("plaintext", [SECRET, "", "ünïcødé ✓ 🔑", "x" * 10_000])
def test_round_trip(ring: Keyring, plaintext: str) -> None:
    envelope = ring.encrypt(plaintext, org_id=ORG, purpose=PURPOSE)
    assert envelope.isascii()
    assert envelope.startswith("v1.k1.")
    assert plaintext == ring.decrypt(envelope, org_id=ORG, purpose=PURPOSE)


def test_envelope_format(ring: Keyring) -> None:
    envelope = ring.encrypt(SECRET, org_id=ORG, purpose=PURPOSE)
    version, kid, body = envelope.split(".")
    assert (version, kid) == ("v1", "k1")
    assert "=" not in body
    raw = body_of(envelope)
    assert len(raw) == 12 + len(SECRET.encode()) + 16
    assert SECRET.encode() not in raw
    assert SECRET not in envelope


def test_org_id_can_be_any_object(ring: Keyring) -> None:
    envelope = ring.encrypt(SECRET, org_id=42, purpose=PURPOSE)
    assert ring.decrypt(envelope, org_id="42", purpose=PURPOSE) == SECRET


def test_each_encryption_uses_a_new_nonce(ring: Keyring) -> None:
    envelopes = {ring.encrypt(SECRET, org_id=ORG, purpose=PURPOSE) for _ in range(50)}
    assert len(envelopes) == 50
    nonces = {body_of(envelope)[:12] for envelope in envelopes}
    assert len(nonces) == 50
    for envelope in envelopes:
        assert ring.decrypt(envelope, org_id=ORG, purpose=PURPOSE) == SECRET


def test_tampered_ciphertext_fails(ring: Keyring) -> None:
    envelope = ring.encrypt(SECRET, org_id=ORG, purpose=PURPOSE)
    raw = body_of(envelope)
    for position in (0, 12, len(raw) // 2, len(raw) - 1):  # nonce, ciphertext, tag
        tampered = bytearray(raw)
        tampered[position] ^= 0x01
        forged = f"v1.k1.{b64url(bytes(tampered))}"
        with pytest.raises(DecryptionError) as exc:
            ring.decrypt(forged, org_id=ORG, purpose=PURPOSE)
        assert exc.value.status == 500
        assert exc.value.code == "decryption_failed"


def test_truncated_ciphertext_fails(ring: Keyring) -> None:
    envelope = ring.encrypt(SECRET, org_id=ORG, purpose=PURPOSE)
    raw = body_of(envelope)
    with pytest.raises(DecryptionError):
        ring.decrypt(f"v1.k1.{b64url(raw[:-1])}", org_id=ORG, purpose=PURPOSE)


def test_unknown_key_id_fails(ring: Keyring) -> None:
    envelope = ring.encrypt(SECRET, org_id=ORG, purpose=PURPOSE)
    other = Keyring([("k2", K2)])
    with pytest.raises(DecryptionError, match="'k1' is not in the keyring") as exc:
        other.decrypt(envelope, org_id=ORG, purpose=PURPOSE)
    assert exc.value.details == {"key_id": "k1", "purpose": PURPOSE}


def test_wrong_key_under_same_id_fails(ring: Keyring) -> None:
    envelope = ring.encrypt(SECRET, org_id=ORG, purpose=PURPOSE)
    impostor = Keyring([("k1", K2)])
    with pytest.raises(DecryptionError, match="authentication failed"):
        impostor.decrypt(envelope, org_id=ORG, purpose=PURPOSE)


def test_relabelled_key_id_fails() -> None:
    ring = Keyring([("k1", K1), ("k2", K2)])
    envelope = ring.encrypt(SECRET, org_id=ORG, purpose=PURPOSE)
    relabelled = envelope.replace("v1.k1.", "v1.k2.", 1)
    with pytest.raises(DecryptionError):
        ring.decrypt(relabelled, org_id=ORG, purpose=PURPOSE)


def test_wrong_org_fails(ring: Keyring) -> None:
    envelope = ring.encrypt(SECRET, org_id=ORG, purpose=PURPOSE)
    with pytest.raises(DecryptionError):
        ring.decrypt(envelope, org_id=OTHER_ORG, purpose=PURPOSE)


def test_wrong_purpose_fails(ring: Keyring) -> None:
    envelope = ring.encrypt(SECRET, org_id=ORG, purpose=PURPOSE)
    with pytest.raises(DecryptionError, match="'webhook_secret'"):
        ring.decrypt(envelope, org_id=ORG, purpose="webhook_secret")


def test_ambiguous_context_is_rejected_on_encrypt(ring: Keyring) -> None:
    with pytest.raises(ValueError, match="purpose"):
        ring.encrypt(SECRET, org_id=ORG, purpose="a:b")
    with pytest.raises(ValueError, match="purpose"):
        ring.encrypt(SECRET, org_id=ORG, purpose="")
    with pytest.raises(ValueError, match="org_id"):
        ring.encrypt(SECRET, org_id="x:y", purpose=PURPOSE)


MALFORMED = [
    "",
    "garbage",
    "v1",
    "v1.k1",
    "v1.k1.",
    "v2.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "v1..AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "v1.bad kid.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "v1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.extra",
    "v1.k1.AAAA",  # too short for nonce + tag
    "v1.k1.AAAAA",  # impossible base64 length
    "v1.k1.AAAA*AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "v1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
    "v1.k1.AAAA+AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "v1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAé",
    "v1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
    "v1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  # well-formed, not authentic
]


@pytest.mark.parametrize("envelope", MALFORMED)
def test_malformed_envelopes_raise_decryption_error(ring: Keyring, envelope: str) -> None:
    with pytest.raises(DecryptionError):
        ring.decrypt(envelope, org_id=ORG, purpose=PURPOSE)


@pytest.mark.parametrize("envelope", [None, b"v1.k1.AAAA", 42])
def test_non_string_envelopes_raise_decryption_error(ring: Keyring, envelope: object) -> None:
    with pytest.raises(DecryptionError):
        ring.decrypt(envelope, org_id=ORG, purpose=PURPOSE)  # type: ignore[arg-type]
    with pytest.raises(DecryptionError):
        Keyring.key_id_of(envelope)  # type: ignore[arg-type]


@pytest.mark.parametrize("envelope", MALFORMED[:9])
def test_key_id_of_malformed_raises_decryption_error(envelope: str) -> None:
    with pytest.raises(DecryptionError):
        Keyring.key_id_of(envelope)


def test_error_messages_never_contain_secrets(ring: Keyring) -> None:
    envelope = ring.encrypt(SECRET, org_id=ORG, purpose=PURPOSE)
    body = envelope.split(".")[2]
    raw = body_of(envelope)
    tampered = f"v1.k1.{b64url(raw[:-1] + bytes([raw[-1] ^ 1]))}"
    attempts: list[Callable[[], object]] = [
        lambda: ring.decrypt(envelope, org_id=OTHER_ORG, purpose=PURPOSE),
        lambda: ring.decrypt(envelope, org_id=ORG, purpose="other"),
        lambda: ring.decrypt(tampered, org_id=ORG, purpose=PURPOSE),
        lambda: Keyring([("k2", K2)]).decrypt(envelope, org_id=ORG, purpose=PURPOSE),
        lambda: Keyring([("k1", K2)]).decrypt(envelope, org_id=ORG, purpose=PURPOSE),
        lambda: ring.decrypt(envelope + "!", org_id=ORG, purpose=PURPOSE),
    ]
    forbidden = [SECRET, body, b64(K1), b64(K2), K1.hex(), K2.hex(), str(K1)]
    for attempt in attempts:
        with pytest.raises(DecryptionError) as exc:
            attempt()
        rendered = [str(exc.value), repr(exc.value), str(exc.value.details)]
        if exc.value.__cause__ is not None:
            rendered.append(repr(exc.value.__cause__))
        for text in rendered:
            for secret in forbidden:
                assert secret not in text
            assert body[:16] not in text


# --- rotation -------------------------------------------------------------------------------


def test_rotation() -> None:
    k1, k2 = generate_key(), generate_key()
    a = Keyring([("k1", k1)])
    old = a.encrypt(SECRET, org_id=ORG, purpose=PURPOSE)
    assert Keyring.key_id_of(old) == "k1"
    assert not a.needs_rotation(old)

    b = Keyring([("k2", k2), ("k1", k1)])
    assert b.active_key_id == "k2"
    assert b.needs_rotation(old)
    assert b.decrypt(old, org_id=ORG, purpose=PURPOSE) == SECRET
    new = b.reencrypt(old, org_id=ORG, purpose=PURPOSE)
    assert Keyring.key_id_of(new) == "k2"
    assert new.startswith("v1.k2.")
    assert not b.needs_rotation(new)

    c = Keyring([("k2", k2)])
    assert c.decrypt(new, org_id=ORG, purpose=PURPOSE) == SECRET
    with pytest.raises(DecryptionError, match="'k1' is not in the keyring"):
        c.decrypt(old, org_id=ORG, purpose=PURPOSE)
    with pytest.raises(DecryptionError):
        c.reencrypt(old, org_id=ORG, purpose=PURPOSE)


def test_reencrypt_keeps_the_context_binding() -> None:
    ring = Keyring([("k2", K2), ("k1", K1)])
    old = Keyring([("k1", K1)]).encrypt(SECRET, org_id=ORG, purpose=PURPOSE)
    with pytest.raises(DecryptionError):
        ring.reencrypt(old, org_id=OTHER_ORG, purpose=PURPOSE)
    new = ring.reencrypt(old, org_id=ORG, purpose=PURPOSE)
    with pytest.raises(DecryptionError):
        ring.decrypt(new, org_id=ORG, purpose="other")


# --- hint -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ("sk_live_abcdefghijklmnop4f2a", "sk_live_…4f2a"),
        ("rk_test_51HxYzAbCdEfGhIj9x8y", "rk_test_…9x8y"),
        ("whsec_xyzxyzxyzxyzxyz9abc", "whsec_…9abc"),
        ("ghp_1234567890abcdefghij", "ghp_…ghij"),
        ("sk_live_ab_cd_efghijklmnopqrst", "sk_live_…qrst"),
        ("abcdefghijklmnopqrstuvwxyz", "…wxyz"),
        ("xoxb-1234-5678-abcdefghij", "…ghij"),
        ("abcdefghijkl", "…ijkl"),  # exactly 12 characters
        ("abcdefghijk", "…jk"),  # 11 characters: short
        ("short1", "…t1"),
        ("abcd", "…"),
        ("", "…"),
        # The part before the underscore is long/random: not a prefix.
        ("aB3dE5gH7jK9mN1pQ3_stuvwxyz0123", "…0123"),
        # Too little left after the prefix to hide: prefix dropped.
        ("sk_live_abcdef12", "…ef12"),
    ],
)
def test_hint(secret: str, expected: str) -> None:
    assert hint(secret) == expected


def test_hint_keep() -> None:
    secret = "sk_live_abcdefghijklmnop4f2a"
    assert hint(secret, keep=6) == "sk_live_…op4f2a"
    assert hint(secret, keep=0) == "sk_live_…"
    # Never reveals more than a third of what follows the prefix.
    assert hint(secret, keep=100) == "…" + secret[-(len(secret) // 3) :]
    with pytest.raises(ValueError):
        hint(secret, keep=-1)
