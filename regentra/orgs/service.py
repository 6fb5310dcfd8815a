"""Orgs and their users."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from regentra.audit.service import Actor, record
from regentra.auth.passwords import hash_password
from regentra.auth.service import normalize_email
from regentra.errors import Conflict, Invalid, NotFound
from regentra.kit.money import check_currency
from regentra.kit.time import time_zones
from regentra.models import Org, Role, SecretPurpose, StripeConnection, User
from regentra.orgs import secrets as org_secrets
from regentra.orgs.repository import OrgScopedRepository
from regentra.orgs.schemas import OrgUpdate

users = OrgScopedRepository(User, "user")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_email(email: str) -> str:
    email = normalize_email(email)
    if not _EMAIL.match(email) or len(email) > 254:
        raise Invalid(f"'{email}' is not a valid email address")
    return email


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:50]
    return slug or "org"


def _unique_slug(session: Session, base: str) -> str:
    slug, n = base, 1
    while session.scalar(select(func.count()).where(Org.slug == slug)):
        n += 1
        slug = f"{base}-{n}"
    return slug


def _check_timezone(timezone: str) -> str:
    if timezone not in time_zones():
        raise Invalid(f"'{timezone}' is not a known time zone (e.g. America/New_York)")
    return timezone


def create_org(
    session: Session,
    *,
    name: str,
    admin_email: str,
    admin_password: str,
    admin_name: str = "",
    timezone: str = "UTC",
    default_currency: str = "USD",
    default_hourly_rate: int = 0,
) -> tuple[Org, User]:
    name = name.strip()
    if not name:
        raise Invalid("org name is required")
    _check_timezone(timezone)
    currency = check_currency(default_currency)
    if default_hourly_rate < 0:
        raise Invalid("default hourly rate must not be negative")
    org = Org(
        name=name,
        slug=_unique_slug(session, slugify(name)),
        timezone=timezone,
        default_currency=currency,
        default_hourly_rate=default_hourly_rate,
    )
    session.add(org)
    session.flush()
    issue_stripe_webhook_token(session, org_id=org.id)
    admin = add_user(
        session,
        org_id=org.id,
        email=admin_email,
        password=admin_password,
        role=Role.admin,
        name=admin_name,
        actor=Actor.system(),
    )
    record(
        session,
        org_id=org.id,
        actor=Actor.system(),
        action="org.created",
        subject_type="org",
        subject_id=org.id,
        details={"name": org.name, "slug": org.slug},
    )
    return org, admin


def webhook_token_hash(token: str) -> str:
    """How an incoming webhook finds its org: the SHA-256 of the token in its URL."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_stripe_webhook_token(session: Session, *, org_id: uuid.UUID) -> str:
    """A new token for the org's Stripe webhook URL (32 random bytes, base64url), replacing
    any previous one. Stored as its SHA-256 (indexed, for look-up) and encrypted (for
    display); the org's Stripe connection row is made along with the first token."""
    token = secrets.token_urlsafe(32)
    digest = webhook_token_hash(token)
    connection = session.scalar(select(StripeConnection).where(StripeConnection.org_id == org_id))
    if connection is None:
        session.add(StripeConnection(org_id=org_id, webhook_token_hash=digest))
    else:
        connection.webhook_token_hash = digest
    org_secrets.put(
        session, org_id=org_id, purpose=SecretPurpose.stripe_webhook_token.value, value=token
    )
    session.flush()
    return token


def update_org(session: Session, *, org_id: uuid.UUID, data: OrgUpdate, actor: Actor) -> Org:
    org = get_org(session, org_id)
    changes = data.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None:
            raise Invalid(f"{name} cannot be null")
    if "name" in changes:
        changes["name"] = changes["name"].strip()
        if not changes["name"]:
            raise Invalid("name must not be blank")
    if "timezone" in changes:
        changes["timezone"] = _check_timezone(changes["timezone"].strip())
    if "default_currency" in changes:
        changes["default_currency"] = check_currency(changes["default_currency"])
    applied = {k: v for k, v in changes.items() if getattr(org, k) != v}
    for key, value in applied.items():
        setattr(org, key, value)
    if applied:
        record(
            session,
            org_id=org.id,
            actor=actor,
            action="org.updated",
            subject_type="org",
            subject_id=org.id,
            details={"changed": applied},
        )
    return org


def add_user(
    session: Session,
    *,
    org_id: uuid.UUID,
    email: str,
    password: str,
    role: Role | str,
    actor: Actor,
    name: str = "",
) -> User:
    email = check_email(email)
    try:
        role = Role(role)
    except ValueError as exc:
        raise Invalid(f"role must be one of: {', '.join(r.value for r in Role)}") from exc
    if session.scalar(select(func.count()).where(User.email == email)):
        raise Conflict(f"a user with email {email} already exists")
    user = User(
        org_id=org_id,
        email=email,
        name=name.strip()[:200],
        role=role.value,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    record(
        session,
        org_id=org_id,
        actor=actor,
        action="user.created",
        subject_type="user",
        subject_id=user.id,
        details={"email": email, "role": role.value},
    )
    return user


def list_users(session: Session, *, org_id: uuid.UUID) -> list[User]:
    return list(session.scalars(users.select(org_id).order_by(User.email)).all())


def get_org(session: Session, org_id: uuid.UUID) -> Org:
    org = session.get(Org, org_id)
    if org is None:
        raise NotFound("org not found")
    return org


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalize_email(email)))
