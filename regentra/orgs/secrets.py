"""An org's secrets (vendor keys, signing secrets, OAuth tokens), encrypted at rest.

Each value is AES-256-GCM encrypted under the active key of REGENTRA_ENCRYPTION_KEYS and
bound to (org id, purpose): copied to another org or another field, it fails to decrypt.
"""

from __future__ import annotations

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
