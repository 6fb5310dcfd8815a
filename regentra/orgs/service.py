"""Orgs and their users."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from regentra.audit.service import Actor, record
from regentra.auth.passwords import hash_password
from regentra.auth.service import normalize_email
from regentra.billing import service as billing
from regentra.errors import Conflict, Invalid, NotFound
from regentra.kit.money import check_currency
from regentra.kit.time import time_zones, utcnow
from regentra.models import (
    ApiToken,
    Org,
    PasswordReset,
    Role,
    SecretPurpose,
    StripeConnection,
    User,
    WebSession,
)
from regentra.orgs import secrets as org_secrets
from regentra.orgs.errors import LastActiveAdmin
from regentra.orgs.repository import OrgScopedRepository
from regentra.orgs.schemas import OrgUpdate, UserUpdate

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
    role = _check_role(role)
    if session.scalar(select(func.count()).where(User.email == email)):
        raise Conflict(f"a user with email {email} already exists")
    user = User(
        org_id=org_id,
        email=email,
        name=name.strip()[:200],
        role=role.value,
        password_hash=hash_password(password, context=(email, name)),
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
    billing.usage_changed(session, org_id)  # a seat more
    return user


def _check_role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError as exc:
        raise Invalid(f"role must be one of: {', '.join(r.value for r in Role)}") from exc


def update_user(
    session: Session, *, org_id: uuid.UUID, user_id: uuid.UUID, data: UserUpdate, actor: Actor
) -> User:
    """An admin's edit of a user: the name here, the role through `change_membership`."""
    changes = data.model_dump(exclude_unset=True)
    for key, value in changes.items():
        if value is None:
            raise Invalid(f"{key} cannot be null")
    user = users.get(session, org_id=org_id, id=user_id)
    if "name" in changes:
        name = changes["name"].strip()[:200]
        if name != user.name:
            old = user.name
            user.name = name
            record(
                session,
                org_id=org_id,
                actor=actor,
                action="user.updated",
                subject_type="user",
                subject_id=user.id,
                details={"changed": {"name": name}, "was": {"name": old}},
            )
    if "role" in changes:
        user = change_membership(
            session, org_id=org_id, user_id=user_id, actor=actor, role=changes["role"]
        )
    return user


def deactivate_user(
    session: Session, *, org_id: uuid.UUID, user_id: uuid.UUID, actor: Actor
) -> User:
    return change_membership(session, org_id=org_id, user_id=user_id, actor=actor, active=False)


def reactivate_user(
    session: Session, *, org_id: uuid.UUID, user_id: uuid.UUID, actor: Actor
) -> User:
    return change_membership(session, org_id=org_id, user_id=user_id, actor=actor, active=True)


def set_role(
    session: Session, *, org_id: uuid.UUID, user_id: uuid.UUID, role: Role | str, actor: Actor
) -> User:
    return change_membership(session, org_id=org_id, user_id=user_id, actor=actor, role=role)


def change_membership(
    session: Session,
    *,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    actor: Actor,
    active: bool | None = None,
    role: Role | str | None = None,
) -> User:
    """THE one place a user's seat changes: deactivation, reactivation and role changes all
    pass here (platform billing hooks here to count seats from active users).

    Membership changes of one org are serialized by a lock on the org row (PostgreSQL;
    SQLite's writers are serialized by BEGIN IMMEDIATE), so two admins demoting each other
    at once cannot leave the org without an active admin. Deactivation ends the user's web
    sessions, revokes their API tokens and drops their reset links in the same transaction."""
    new_role = None if role is None else _check_role(role).value
    session.execute(select(Org.id).where(Org.id == org_id).with_for_update())
    user = session.scalar(
        users.select(org_id)
        .where(User.id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if user is None:
        raise NotFound("user not found")
    was_active, was_role = user.is_active, user.role
    target_active = user.is_active if active is None else active
    target_role = user.role if new_role is None else new_role
    losing_admin = user.is_active and user.role == Role.admin.value
    if losing_admin and not (target_active and target_role == Role.admin.value):
        other_admins = session.scalar(
            select(func.count()).where(
                User.org_id == org_id,
                User.id != user.id,
                User.role == Role.admin.value,
                User.is_active.is_(True),
            )
        )
        if not other_admins:
            verb = "deactivated" if not target_active else "given another role"
            raise LastActiveAdmin(
                f"{user.email} is the organization's last active admin and cannot be {verb}; "
                "make another user an admin first"
            )
    if target_role != user.role:
        old_role, user.role = user.role, target_role
        record(
            session,
            org_id=org_id,
            actor=actor,
            action="user.role_changed",
            subject_type="user",
            subject_id=user.id,
            details={"email": user.email, "from": old_role, "to": target_role},
        )
    if target_active != user.is_active:
        user.is_active = target_active
        details: dict[str, object] = {"email": user.email}
        if not target_active:
            ended = session.execute(delete(WebSession).where(WebSession.user_id == user.id))
            # An unused reset link must not outlive the deactivation (nor revive on return).
            session.execute(delete(PasswordReset).where(PasswordReset.user_id == user.id))
            revoked = session.execute(
                update(ApiToken)
                .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                .values(revoked_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            details |= {
                "sessions_ended": getattr(ended, "rowcount", 0),
                "api_credentials_revoked": getattr(revoked, "rowcount", 0),
            }
        record(
            session,
            org_id=org_id,
            actor=actor,
            action="user.deactivated" if not target_active else "user.reactivated",
            subject_type="user",
            subject_id=user.id,
            details=details,
        )
    if target_active != was_active or target_role != was_role:
        billing.usage_changed(session, org_id)  # seats follow active users
    session.flush()
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
