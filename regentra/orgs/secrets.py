"""An org's secrets (vendor keys, signing secrets, OAuth tokens), encrypted at rest.

Each value is AES-256-GCM encrypted under the active key of REGENTRA_ENCRYPTION_KEYS and
bound to (org id, purpose): copied to another org or another field, it fails to decrypt.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from regentra.config import get_settings
from regentra.kit.crypto import Keyring
from regentra.models import OrgSecret


@lru_cache(maxsize=1)
def keyring() -> Keyring:
    return Keyring.from_spec(get_settings().encryption_keys)


def put(session: Session, *, org_id: uuid.UUID, purpose: str, value: str) -> None:
    ring = keyring()
    envelope = ring.encrypt(value, org_id=org_id, purpose=purpose)
    row = session.scalar(
        select(OrgSecret).where(OrgSecret.org_id == org_id, OrgSecret.purpose == purpose)
    )
    if row is None:
        session.add(
            OrgSecret(
                org_id=org_id, purpose=purpose, ciphertext=envelope, key_id=ring.active_key_id
            )
        )
    else:
        row.ciphertext = envelope
        row.key_id = ring.active_key_id


def get(session: Session, *, org_id: uuid.UUID, purpose: str) -> str | None:
    row = session.scalar(
        select(OrgSecret).where(OrgSecret.org_id == org_id, OrgSecret.purpose == purpose)
    )
    if row is None:
        return None
    return keyring().decrypt(row.ciphertext, org_id=org_id, purpose=purpose)


# ---- a short-lived per-process cache of decrypted secrets (hot paths: webhook verification) ----

CACHE_SECONDS = 60.0
_CACHE_MAX = 4096
_cache: dict[tuple[uuid.UUID, str, str, str], tuple[float, str]] = {}
_cache_lock = threading.Lock()


def reveal(*, org_id: uuid.UUID, purpose: str, key_id: str, ciphertext: str) -> str:
    """Decrypt a stored secret already read (its row's `key_id` and `ciphertext`), through a
    per-process cache of at most `CACHE_SECONDS`. The cache is keyed by (org, purpose, key id,
    SHA-256 of the ciphertext): every save or re-encryption writes a new ciphertext (a fresh
    nonce), so a changed secret misses the cache and is used at once. No database access."""
    digest = hashlib.sha256(ciphertext.encode()).hexdigest()
    key = (org_id, purpose, key_id, digest)
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = keyring().decrypt(ciphertext, org_id=org_id, purpose=purpose)
    with _cache_lock:
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        _cache[key] = (now + CACHE_SECONDS, value)
    return value


def forget_cached() -> None:
    """Empty the cache (a key removed from the keyring; tests)."""
    with _cache_lock:
        _cache.clear()


def delete(session: Session, *, org_id: uuid.UUID, purpose: str) -> bool:
    row = session.scalar(
        select(OrgSecret).where(OrgSecret.org_id == org_id, OrgSecret.purpose == purpose)
    )
    if row is None:
        return False
    session.delete(row)
    return True


@dataclass
class RotationReport:
    total: int = 0
    rotated: int = 0


def rotate_all(
    session: Session, *, ring: Keyring | None = None, progress: Callable[[], None] | None = None
) -> RotationReport:
    """Re-encrypt every stored secret under the active key (idempotent)."""
    ring = ring or keyring()
    report = RotationReport()
    for row in session.scalars(select(OrgSecret).order_by(OrgSecret.id)):
        report.total += 1
        if ring.needs_rotation(row.ciphertext):
            row.ciphertext = ring.reencrypt(row.ciphertext, org_id=row.org_id, purpose=row.purpose)
            row.key_id = ring.active_key_id
            report.rotated += 1
        if progress:
            progress()
    return report


def count(session: Session) -> int:
    return len(session.scalars(select(OrgSecret.id)).all())
