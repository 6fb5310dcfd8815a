from __future__ import annotations

import enum

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from regentra.models.base import Base, IdMixin, OrgScoped, TimestampMixin


class SecretPurpose(enum.StrEnum):
    """What an org secret is for (`OrgSecret.purpose`). The purpose is also bound into the
    value's encryption, so a secret copied to another purpose fails to decrypt."""

    stripe_secret_key = "stripe_secret_key"  # noqa: S105 (a purpose name, not a secret)
    stripe_webhook_secret = "stripe_webhook_secret"  # noqa: S105 (Stripe's signing secret)
    stripe_webhook_token = "stripe_webhook_token"  # noqa: S105 (our webhook URL's token)
    quickbooks_access_token = "quickbooks_access_token"  # noqa: S105 (Intuit OAuth 2)
    quickbooks_refresh_token = "quickbooks_refresh_token"  # noqa: S105 (Intuit OAuth 2)


class OrgSecret(IdMixin, OrgScoped, TimestampMixin, Base):
    """Every secret an org gives us, AES-256-GCM encrypted, bound to (org, purpose)."""

    __tablename__ = "org_secrets"
    __table_args__ = (UniqueConstraint("org_id", "purpose"),)

    purpose: Mapped[str] = mapped_column(String(64))
    ciphertext: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(32))
