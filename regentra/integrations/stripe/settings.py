"""Settings → Integrations → Stripe: an org's keys, Test Connection and webhook URL.

The secret key and the webhook signing secret go only through the keyring
(`regentra.orgs.secrets`, AES-256-GCM bound to org and purpose); they are never returned,
logged, audited or stored in the clear, not even as a hint (the hint is made from the
decrypted key when it is shown). The webhook token that makes the org's webhook URL is
kept the same way, with its SHA-256 on `stripe_connections` for look-up.

The two flows that call Stripe (`save_keys`, `test_connection`) commit what they did so far
before the network call, so no database lock (SQLite's write lock) is held while waiting
for Stripe; they are request-boundary flows, called by the API and the page alike.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from regentra import queue
from regentra.audit.service import Actor, record
from regentra.catalog import service as catalog_service
from regentra.config import get_settings
from regentra.errors import Invalid
from regentra.integrations.quickbooks.postings import RESUME_TASK
from regentra.integrations.stripe import payment_methods, permissions
from regentra.integrations.stripe.connection_test import (
    Mode,
    TestResult,
    check,
    mode_of,
)
from regentra.integrations.stripe.handlers import WEBHOOK_EVENTS
from regentra.integrations.stripe.payment_methods import StripePaymentMethods
from regentra.invoices.transitions import quickbooks_connected
from regentra.kit.crypto import hint
from regentra.kit.time import utcnow
from regentra.models import SecretPurpose, StripeConnection
from regentra.orgs import secrets
from regentra.orgs import service as orgs_service

log = structlog.get_logger(__name__)

WEBHOOK_PATH = "/api/webhooks/stripe/"


_PUBLISHABLE = re.compile(r"^pk_(test|live)_[A-Za-z0-9]+$")
_SECRET = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9]+$")
_SIGNING = re.compile(r"^whsec_[A-Za-z0-9+/=_-]+$")


class StripeKeys(BaseModel):
    """PUT body. Secret fields are write-only: omitted (or blank) keeps the stored value."""

    model_config = ConfigDict(extra="forbid")

    publishable_key: str = Field(max_length=255)
    secret_key: str | None = Field(default=None, max_length=255)
    webhook_signing_secret: str | None = Field(default=None, max_length=255)


class StripeTestKeys(BaseModel):
    """Test Connection body: unsaved keys to try; omitted ones are taken from the saved."""

    model_config = ConfigDict(extra="forbid")

    publishable_key: str | None = Field(default=None, max_length=255)
    secret_key: str | None = Field(default=None, max_length=255)


# ---- validation ------------------------------------------------------------------------------


def _blank_to_none(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _mode(key: str) -> Mode:
    return mode_of(key)


def _describe_mode(key: str) -> str:
    return f"a {_mode(key)} key"


def _fail(fields: list[dict[str, str]]) -> Invalid:
    message = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    return Invalid(message, details={"fields": fields})


def _check_publishable(value: str, fields: list[dict[str, str]]) -> bool:
    if _PUBLISHABLE.match(value):
        return True
    if _SECRET.match(value) or value.startswith(("sk_", "rk_")):
        why = (
            "this is a secret key, not the publishable key: paste it in the secret key field, "
            "and paste the key that starts with pk_test_ or pk_live_ here"
        )
    else:
        why = (
            "must start with pk_test_ or pk_live_ (Stripe Dashboard → Developers → API keys, "
            "'Publishable key')"
        )
    fields.append({"field": "publishable_key", "message": why})
    return False


def _check_secret(value: str, fields: list[dict[str, str]]) -> bool:
    if _SECRET.match(value):
        return True
    if value.startswith("pk_"):
        why = (
            "this is the publishable key: paste the secret key (it starts with sk_test_ or "
            "sk_live_) or a restricted key (rk_test_ or rk_live_) here"
        )
    elif value.startswith("whsec_"):
        why = (
            "this is a webhook signing secret: paste it in the signing secret field, and the "
            "secret key (sk_test_, sk_live_, rk_test_ or rk_live_) here"
        )
    else:
        why = (
            "must start with sk_test_, sk_live_ (secret key) or rk_test_, rk_live_ "
            "(restricted key), followed by letters and digits (Stripe Dashboard → Developers "
            "→ API keys)"
        )
    fields.append({"field": "secret_key", "message": why})
    return False


def _check_signing(value: str, fields: list[dict[str, str]]) -> bool:
    if _SIGNING.match(value):
        return True
    fields.append(
        {
            "field": "webhook_signing_secret",
            "message": (
                "must start with whsec_ (Stripe Dashboard → Developers → Webhooks → your "
                "endpoint → 'Signing secret')"
            ),
        }
    )
    return False


def _check_modes(
    publishable: str | None,
    secret: str | None,
    *,
    secret_saved: bool,
    fields: list[dict[str, str]],
) -> None:
    if publishable is None or secret is None or _mode(publishable) == _mode(secret):
        return
    if secret_saved:
        fields.append(
            {
                "field": "publishable_key",
                "message": (
                    f"this is {_describe_mode(publishable)} but the saved secret key is "
                    f"{_describe_mode(secret)}: paste the {_mode(publishable)} secret key too, "
                    f"or use the {_mode(secret)} publishable key"
                ),
            }
        )
    else:
        fields.append(
            {
                "field": "secret_key",
                "message": (
                    f"this is {_describe_mode(secret)} but the publishable key is "
                    f"{_describe_mode(publishable)}: use both keys of the same mode "
                    "(both test or both live)"
                ),
            }
        )


# ---- the connection row ---------------------------------------------------------------------


def _find(session: Session, org_id: uuid.UUID) -> StripeConnection | None:
    return session.scalar(select(StripeConnection).where(StripeConnection.org_id == org_id))


def connection(session: Session, *, org_id: uuid.UUID) -> StripeConnection:
    """The org's connection row. Orgs made before the Stripe settings existed get theirs,
    with a webhook token, the first time it is asked for (racing requests agree)."""
    found = _find(session, org_id)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            orgs_service.issue_stripe_webhook_token(session, org_id=org_id)
    except IntegrityError:
        pass  # another request made it first
    found = _find(session, org_id)
    assert found is not None
    return found


def _webhook_token(session: Session, org_id: uuid.UUID) -> str:
    token = secrets.get(session, org_id=org_id, purpose=SecretPurpose.stripe_webhook_token.value)
    if token is None:  # cannot happen: the token is stored with the row
        token = orgs_service.issue_stripe_webhook_token(session, org_id=org_id)
    return token


def webhook_url(token: str) -> str:
    return get_settings().base_url.rstrip("/") + WEBHOOK_PATH + token


# ---- what the page and GET show --------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def status(session: Session, *, org_id: uuid.UUID) -> dict[str, Any]:
    conn = connection(session, org_id=org_id)
    secret_key = secrets.get(session, org_id=org_id, purpose=SecretPurpose.stripe_secret_key.value)
    signing = secrets.get(session, org_id=org_id, purpose=SecretPurpose.stripe_webhook_secret.value)
    last_test = None
    if conn.last_test_at is not None:
        last_test = {
            "ok": bool(conn.last_test_ok),
            "at": _iso(conn.last_test_at),
            "account_id": conn.last_test_account_id,
            "message": conn.last_test_message or "",
        }
    rejection = None
    if conn.last_webhook_rejected_at is not None:
        rejection = {
            "at": _iso(conn.last_webhook_rejected_at),
            "reason": conn.last_webhook_rejection or "",
        }
    reconciliation = None
    if conn.last_reconcile_at is not None:
        checkpoint = conn.reconcile_checkpoint
        reconciliation = {
            "at": _iso(conn.last_reconcile_at),
            "ok": bool(conn.last_reconcile_ok),
            "message": conn.last_reconcile_message or "",
            # Stripe events up to this time have been read (the next run starts there).
            "checkpoint": (
                _iso(datetime.fromtimestamp(checkpoint, UTC)) if checkpoint is not None else None
            ),
        }
    return {
        "configured": bool(conn.publishable_key and secret_key),
        "mode": conn.mode,
        "publishable_key": conn.publishable_key,
        "secret_key_hint": hint(secret_key) if secret_key else None,
        "webhook_url": webhook_url(_webhook_token(session, org_id)),
        "webhook_signing_secret_configured": signing is not None,
        "webhook_events": list(WEBHOOK_EVENTS),
        "last_test": last_test,
        "last_webhook_at": _iso(conn.last_webhook_at),
        "last_webhook_rejection": rejection,
        "last_reconcile": reconciliation,
        "catalog": catalog_service.summary(session, org_id=org_id),
        **payment_methods.summary(conn),
        "required_permissions": [p.to_json() for p in permissions.REQUIRED],
    }


# ---- saving -----------------------------------------------------------------------------------


def save(session: Session, *, org_id: uuid.UUID, keys: StripeKeys, actor: Actor) -> bool:
    """Validate and store the keys (422 naming the field and the fix; nothing is stored then).
    Returns True when the saved keys should be checked with Stripe now: the secret key
    changed, or the connection was never confirmed."""
    publishable = keys.publishable_key.strip()
    secret = _blank_to_none(keys.secret_key)
    signing = _blank_to_none(keys.webhook_signing_secret)
    fields: list[dict[str, str]] = []
    ok_pk = _check_publishable(publishable, fields)
    ok_sk = secret is None or _check_secret(secret, fields)
    if signing is not None:
        _check_signing(signing, fields)
    stored_secret = secrets.get(
        session, org_id=org_id, purpose=SecretPurpose.stripe_secret_key.value
    )
    if ok_pk and ok_sk:
        _check_modes(
            publishable,
            secret or stored_secret,
            secret_saved=secret is None,
            fields=fields,
        )
    if fields:
        raise _fail(fields)

    conn = connection(session, org_id=org_id)
    changed: list[str] = []
    if conn.publishable_key != publishable:
        conn.publishable_key = publishable
        changed.append("publishable_key")
    conn.mode = _mode(publishable)
    if secret is not None and secret != stored_secret:
        secrets.put(
            session, org_id=org_id, purpose=SecretPurpose.stripe_secret_key.value, value=secret
        )
        changed.append("secret_key")
    stored_signing = secrets.get(
        session, org_id=org_id, purpose=SecretPurpose.stripe_webhook_secret.value
    )
    if signing is not None and signing != stored_signing:
        secrets.put(
            session, org_id=org_id, purpose=SecretPurpose.stripe_webhook_secret.value, value=signing
        )
        changed.append("webhook_signing_secret")
    if changed:
        record(
            session,
            org_id=org_id,
            actor=actor,
            action="stripe.settings_updated",
            subject_type="stripe_connection",
            subject_id=conn.id,
            details={
                "changed": changed,
                "mode": conn.mode,
                "secret_key_configured": bool(secret or stored_secret),
                "webhook_signing_secret_configured": (signing or stored_signing) is not None,
            },
        )
    has_secret = secret is not None or stored_secret is not None
    return has_secret and ("secret_key" in changed or conn.connected_at is None)


def save_keys(
    session: Session, *, org_id: uuid.UUID, keys: StripeKeys, actor: Actor
) -> TestResult | None:
    """Save (request-boundary flow). When the secret key is new, or Stripe never confirmed
    the connection, ask Stripe (`GET /v1/account`) and keep the answer as the last test;
    the first confirmed connection starts the catalog's first sync. Returns that answer."""
    if not save(session, org_id=org_id, keys=keys, actor=actor):
        return None
    secret_key = secrets.get(session, org_id=org_id, purpose=SecretPurpose.stripe_secret_key.value)
    assert secret_key is not None
    session.commit()  # the keys are saved; hold no database lock while Stripe answers
    result = check(org_id=org_id, secret_key=secret_key)
    record_test(session, org_id=org_id, result=result, actor=actor)
    if result.ok and _mark_connected(session, org_id=org_id):
        start_catalog_sync(session, org_id=org_id, actor=actor)
    if result.ok:
        _resume_bookkeeping(session, org_id=org_id)
    return result


def _resume_bookkeeping(session: Session, *, org_id: uuid.UUID) -> None:
    """Stripe works again with this key: QuickBooks postings that waited for Stripe (to read
    a payment and its fee) run again, by task name, when the org has QuickBooks connected."""
    if quickbooks_connected(session, org_id=org_id):
        queue.enqueue(session, RESUME_TASK, str(org_id))


def _mark_connected(session: Session, *, org_id: uuid.UUID) -> bool:
    """True once per connection: the first time its keys work (a conditional update, so
    concurrent saves agree on who was first)."""
    result = session.execute(
        update(StripeConnection)
        .where(StripeConnection.org_id == org_id, StripeConnection.connected_at.is_(None))
        .values(connected_at=utcnow(), updated_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def start_catalog_sync(session: Session, *, org_id: uuid.UUID, actor: Actor) -> None:
    """The first confirmed connection fills the Service Catalog from Stripe, by itself:
    the one call site of the catalog's first sync (the catalog creates or joins a sync and
    enqueues its task after the transaction commits)."""
    catalog_service.start_sync(session, org_id=org_id, actor=actor)


# ---- Test Connection ---------------------------------------------------------------------------


def record_test(session: Session, *, org_id: uuid.UUID, result: TestResult, actor: Actor) -> None:
    conn = connection(session, org_id=org_id)
    conn.last_test_ok = result.ok
    conn.last_test_at = utcnow()
    conn.last_test_account_id = result.account_id
    conn.last_test_message = result.message
    if result.ok:
        payment_methods.record_country(conn, result.country, ach_active=result.ach_active)
    record(
        session,
        org_id=org_id,
        actor=actor,
        action="stripe.connection_tested",
        subject_type="stripe_connection",
        subject_id=conn.id,
        details={"ok": result.ok, "account_id": result.account_id, "mode": result.mode},
    )


def test_connection(
    session: Session, *, org_id: uuid.UUID, keys: StripeTestKeys, actor: Actor
) -> TestResult:
    """Test Connection (request-boundary flow) with the keys given, else the saved ones."""
    publishable = _blank_to_none(keys.publishable_key)
    secret = _blank_to_none(keys.secret_key)
    fields: list[dict[str, str]] = []
    ok_pk = publishable is None or _check_publishable(publishable, fields)
    ok_sk = secret is None or _check_secret(secret, fields)
    conn = connection(session, org_id=org_id)
    stored_secret = secrets.get(
        session, org_id=org_id, purpose=SecretPurpose.stripe_secret_key.value
    )
    if ok_pk and ok_sk:
        _check_modes(
            publishable or conn.publishable_key,
            secret or stored_secret,
            secret_saved=secret is None,
            fields=fields,
        )
    if fields:
        raise _fail(fields)
    secret = secret or stored_secret
    if secret is None:
        return TestResult(
            False,
            None,
            None,
            None,
            "There is no secret key to test: paste the secret key (or a restricted key) first.",
        )
    session.commit()  # hold no database lock while Stripe answers
    result = check(org_id=org_id, secret_key=secret)
    record_test(session, org_id=org_id, result=result, actor=actor)
    return result


# ---- payment methods ---------------------------------------------------------------------------


def set_payment_methods(
    session: Session, *, org_id: uuid.UUID, body: StripePaymentMethods, actor: Actor
) -> None:
    """The account's country (for keys that may not read it) and the methods invoices offer;
    ACH for an account outside the US is 422 (`payment_methods.choose`)."""
    conn = connection(session, org_id=org_id)
    payment_methods.choose(session, conn=conn, body=body, actor=actor)


# ---- webhook token, disconnect ----------------------------------------------------------------


def rotate_webhook_token(session: Session, *, org_id: uuid.UUID, actor: Actor) -> str:
    """A new webhook URL; the old one answers 404 from now on. Returns the new URL."""
    conn = connection(session, org_id=org_id)
    token = orgs_service.issue_stripe_webhook_token(session, org_id=org_id)
    record(
        session,
        org_id=org_id,
        actor=actor,
        action="stripe.webhook_url_rotated",
        subject_type="stripe_connection",
        subject_id=conn.id,
        details={},
    )
    return webhook_url(token)


def disconnect(session: Session, *, org_id: uuid.UUID, actor: Actor) -> None:
    """Forget the keys and the signing secret (wiped from the database). The webhook URL
    stays; webhooks are rejected until a signing secret is saved again."""
    conn = connection(session, org_id=org_id)
    wiped = (
        ("secret_key", SecretPurpose.stripe_secret_key.value),
        ("webhook_signing_secret", SecretPurpose.stripe_webhook_secret.value),
    )
    removed = [
        name for name, purpose in wiped if secrets.delete(session, org_id=org_id, purpose=purpose)
    ]
    had_keys = conn.publishable_key is not None or bool(removed)
    conn.publishable_key = None
    conn.mode = None
    conn.connected_at = None
    conn.last_test_ok = None
    conn.last_test_at = None
    conn.last_test_account_id = None
    conn.last_test_message = None
    if had_keys:
        record(
            session,
            org_id=org_id,
            actor=actor,
            action="stripe.disconnected",
            subject_type="stripe_connection",
            subject_id=conn.id,
            details={"removed": removed},
        )
    session.flush()
