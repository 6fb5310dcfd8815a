"""A keyring for secrets at rest: AES-256-GCM with key ids, so keys can be rotated.

Secrets (vendor API keys, webhook signing secrets, ...) are stored as ASCII envelopes::

    v1.<key id>.<urlsafe base64 of nonce || ciphertext || tag, no padding>

The additional authenticated data binds every envelope to its organization and purpose
(``regentra:v1:{org_id}:{purpose}``), so a value copied to another organization's row, or
into another column, fails to decrypt instead of being silently accepted.

Keys come from ``REGENTRA_ENCRYPTION_KEYS`` as ``kid:base64key[,kid2:base64key...]``; the
first key is active (used to encrypt), the others only decrypt. To rotate: put a new key
first, keep the old one after it, re-encrypt stored values (:meth:`Keyring.reencrypt`),
then drop the old key. A new spec can be made with::

    python -c "from regentra.kit.crypto import *; print(format_key_spec([('k1', generate_key())]))"

Error messages never contain plaintext, key material or ciphertext; at most the key id and
the purpose.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from regentra.errors import RegentraError

__all__ = [
    "DecryptionError",
    "Keyring",
    "KeyringError",
    "format_key_spec",
    "generate_key",
    "hint",
]

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
ENVELOPE_VERSION = "v1"
SPEC_NAME = "REGENTRA_ENCRYPTION_KEYS"
ELLIPSIS = "\u2026"

_KEY_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_B64URL_BODY_RE = re.compile(r"[A-Za-z0-9_-]+")
_B64_ANY_RE = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
_HINT_PREFIX_PART_RE = re.compile(r"[A-Za-z0-9]{1,10}")


class KeyringError(RegentraError):
    """The configured keys are unusable (bad spec, bad key id, wrong key length, ...)."""

    status = 500
    code = "keyring_error"


class DecryptionError(RegentraError):
    """An envelope could not be decrypted, whatever the reason."""

    status = 500
    code = "decryption_failed"


def generate_key() -> bytes:
    """Return a fresh random 32-byte AES-256 key."""
    return os.urandom(KEY_BYTES)


def format_key_spec(entries: list[tuple[str, bytes]]) -> str:
    """Format keys as ``kid:base64key,...`` (what :meth:`Keyring.from_spec` parses)."""
    Keyring(entries)  # validates ids, uniqueness and lengths
    return ",".join(f"{kid}:{base64.b64encode(key).decode('ascii')}" for kid, key in entries)


def _valid_key_id(kid: object) -> bool:
    return isinstance(kid, str) and _KEY_ID_RE.fullmatch(kid) is not None


def _aad(org_id: object, purpose: str) -> bytes:
    return f"regentra:{ENVELOPE_VERSION}:{org_id}:{purpose}".encode()


def _decode_any_b64(text: str) -> bytes:
    """Decode standard or urlsafe base64, padded or not. Raises ValueError."""
    if _B64_ANY_RE.fullmatch(text) is None:
        raise ValueError("not base64")
    body = text.rstrip("=").replace("-", "+").replace("_", "/")
    if len(body) % 4 == 1:
        raise ValueError("not base64")
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except binascii.Error:
        raise ValueError("not base64") from None


class Keyring:
    """AES-256-GCM keys by id; the first key encrypts, all of them decrypt."""

    __slots__ = ("_active", "_ciphers")

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if isinstance(keys, (str, bytes)):
            raise KeyringError(
                f"{SPEC_NAME}: expected a list of (key id, key bytes) pairs; "
                "use Keyring.from_spec() to parse a 'kid:base64key,...' string"
            )
        ciphers: dict[str, AESGCM] = {}
        for index, entry in enumerate(keys, start=1):
            if not isinstance(entry, tuple) or len(entry) != 2:
                raise KeyringError(f"{SPEC_NAME}: entry {index} must be a (key id, key) pair")
            kid, key = entry
            if not _valid_key_id(kid):
                length = len(kid) if isinstance(kid, str) else 0
                # The invalid id is not echoed: it may be a misplaced key.
                raise KeyringError(
                    f"{SPEC_NAME}: the key id of entry {index} is invalid ({length} characters); "
                    "key ids are 1-32 characters of A-Z, a-z, 0-9, '_' and '-'"
                )
            if kid in ciphers:
                raise KeyringError(f"{SPEC_NAME}: key id {kid!r} appears more than once")
            if not isinstance(key, bytes):
                raise KeyringError(f"{SPEC_NAME}: key {kid!r} must be bytes")
            if len(key) != KEY_BYTES:
                raise KeyringError(
                    f"{SPEC_NAME}: key {kid!r} must be {KEY_BYTES} bytes "
                    f"(base64 of {KEY_BYTES} random bytes), got {len(key)}"
                )
            ciphers[kid] = AESGCM(key)
        if not ciphers:
            raise KeyringError(f"{SPEC_NAME}: at least one key is required")
        self._ciphers = ciphers
        self._active = next(iter(ciphers))

    @classmethod
    def from_spec(cls, spec: str) -> Keyring:
        """Parse ``kid:base64key[,kid2:base64key...]``; the first key is the active one."""
        parts = [p.strip() for p in spec.split(",")] if isinstance(spec, str) else []
        parts = [p for p in parts if p]
        if not parts:
            raise KeyringError(
                f"{SPEC_NAME} is empty; expected 'kid:base64key[,kid2:base64key...]' "
                "with 32-byte keys (e.g. 'k1:' followed by base64 of 32 random bytes)"
            )
        entries: list[tuple[str, bytes]] = []
        for index, part in enumerate(parts, start=1):
            kid, sep, encoded = part.partition(":")
            kid, encoded = kid.strip(), encoded.strip()
            if not sep or not kid or not encoded:
                # The entry is not echoed: it may be a bare key.
                raise KeyringError(
                    f"{SPEC_NAME}: entry {index} must look like 'kid:base64key' "
                    "(a key id, a colon, then base64 of 32 random bytes)"
                )
            if not _valid_key_id(kid):
                raise KeyringError(
                    f"{SPEC_NAME}: the key id of entry {index} is invalid ({len(kid)} characters); "
                    "key ids are 1-32 characters of A-Z, a-z, 0-9, '_' and '-'"
                )
            try:
                key = _decode_any_b64(encoded)
            except ValueError:
                raise KeyringError(
                    f"{SPEC_NAME}: key {kid!r} is not valid base64 "
                    f"(expected base64 of {KEY_BYTES} random bytes)"
                ) from None
            entries.append((kid, key))
        return cls(entries)

    @property
    def active_key_id(self) -> str:
        return self._active

    @property
    def key_ids(self) -> list[str]:
        return list(self._ciphers)

    def __repr__(self) -> str:
        return f"Keyring(active_key_id={self._active!r}, key_ids={self.key_ids!r})"

    def encrypt(self, plaintext: str, *, org_id: object, purpose: str) -> str:
        """Encrypt under the active key, bound to ``org_id`` and ``purpose``."""
        if not isinstance(plaintext, str):
            raise TypeError("plaintext must be a str")
        _check_context(org_id, purpose)
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self._active].encrypt(
            nonce, plaintext.encode("utf-8"), _aad(org_id, purpose)
        )
        body = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")
        return f"{ENVELOPE_VERSION}.{self._active}.{body}"

    def decrypt(self, envelope: str, *, org_id: object, purpose: str) -> str:
        """Decrypt an envelope; any failure raises :class:`DecryptionError`."""
        kid, raw = _parse(envelope, purpose)
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise DecryptionError(
                f"cannot decrypt {purpose!r}: key {kid!r} is not in the keyring "
                f"(configured: {', '.join(self._ciphers)})",
                details={"key_id": kid, "purpose": purpose},
            )
        try:
            data = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(org_id, purpose))
            return data.decode("utf-8")
        except (InvalidTag, ValueError):  # UnicodeDecodeError is a ValueError
            # `from None`: the underlying exceptions may describe the data.
            raise DecryptionError(
                f"cannot decrypt {purpose!r} with key {kid!r}: authentication failed "
                "(wrong key, organization or purpose, or the value was altered)",
                details={"key_id": kid, "purpose": purpose},
            ) from None

    @staticmethod
    def key_id_of(envelope: str) -> str:
        """The key id an envelope was encrypted under; DecryptionError if malformed."""
        return _parse(envelope, None)[0]

    def needs_rotation(self, envelope: str) -> bool:
        """True when the envelope is not under the active key (DecryptionError if malformed)."""
        return self.key_id_of(envelope) != self._active

    def reencrypt(self, envelope: str, *, org_id: object, purpose: str) -> str:
        """Decrypt with whichever key it names, encrypt again under the active key."""
        plaintext = self.decrypt(envelope, org_id=org_id, purpose=purpose)
        return self.encrypt(plaintext, org_id=org_id, purpose=purpose)


def _check_context(org_id: object, purpose: str) -> None:
    """Reject contexts that would make the AAD ambiguous (programming errors)."""
    if not isinstance(purpose, str) or not purpose or ":" in purpose:
        raise ValueError("purpose must be a non-empty string without ':'")
    org = str(org_id)
    if not org or ":" in org:
        raise ValueError("org_id must render as a non-empty string without ':'")


def _parse(envelope: object, purpose: str | None) -> tuple[str, bytes]:
    """Split an envelope into (key id, nonce || ciphertext); DecryptionError if malformed."""

    def malformed(why: str) -> DecryptionError:
        what = f"{purpose!r}" if purpose is not None else "value"
        return DecryptionError(
            f"cannot decrypt {what}: malformed envelope ({why})",
            details={"purpose": purpose} if purpose is not None else {},
        )

    if not isinstance(envelope, str):
        raise malformed("not a string")
    parts = envelope.split(".")
    if len(parts) != 3:
        raise malformed(f"expected '{ENVELOPE_VERSION}.<key id>.<data>'")
    version, kid, body = parts
    if version != ENVELOPE_VERSION:
        raise malformed("unsupported version")
    if not _valid_key_id(kid):
        raise malformed("invalid key id")
    if _B64URL_BODY_RE.fullmatch(body) is None or len(body) % 4 == 1:
        raise malformed("data is not unpadded urlsafe base64")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise malformed("data is not unpadded urlsafe base64") from None
    if len(raw) < NONCE_BYTES + TAG_BYTES:
        raise malformed("data is too short")
    return kid, raw


def hint(secret: str, *, keep: int = 4) -> str:
    """A display hint for a secret: ``sk_live_…4f2a``, ``whsec_…9abc``, ``…4f2a``.

    Keeps the recognizable prefix (up to and including the underscore after the first one or
    two underscore-separated parts, each 1-10 letters/digits) and the last ``keep`` characters.
    Secrets shorter than 12 characters give ``…`` plus the last 2 characters (nothing at all
    for 4 characters or fewer). At most a third of the part after the prefix is ever shown,
    and the prefix is dropped when fewer than 8 characters after it would stay hidden.
    """
    if keep < 0:
        raise ValueError("keep must be >= 0")
    if len(secret) <= 4:
        return ELLIPSIS
    if len(secret) < 12:
        return ELLIPSIS + secret[-2:]
    prefix = ""
    parts = secret.split("_")
    # Only parts followed by an underscore can be prefix parts, at most two of them.
    for part in parts[: min(2, len(parts) - 1)]:
        if _HINT_PREFIX_PART_RE.fullmatch(part) is None:
            break
        prefix += part + "_"
    body = secret[len(prefix) :]
    if len(body) < keep + 8:
        prefix, body = "", secret
    shown = min(keep, len(body) // 3)
    return prefix + ELLIPSIS + (body[len(body) - shown :] if shown else "")
