"""Response models the API composes itself: pages, `/me`, bulk results, and the Stripe
integration's views. Domain objects are answered with their domain's `schemas.py`."""

from __future__ import annotations

import uuid
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from regentra.api.responses import ErrorInfo
from regentra.catalog.schemas import CatalogSummary
from regentra.integrations.stripe.connection_test import Mode
from regentra.kit.time import IsoDatetime
from regentra.orgs.schemas import OrgOut, UserOut
from regentra.time_entries.schemas import TimeEntryOut

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list, newest first. Validates from `kit.pagination.Page`."""

    model_config = ConfigDict(from_attributes=True)

    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page"
    )


class Me(UserOut):
    org: OrgOut


class BulkFailure(BaseModel):
    id: uuid.UUID
    error: ErrorInfo


class BulkApproveResult(BaseModel):
    approved: list[TimeEntryOut]
    failed: list[BulkFailure]


# ---- Settings → Integrations → Stripe ----------------------------------------------------------


class WebhookUrl(BaseModel):
    webhook_url: str


class StripeTestResult(BaseModel):
    """Test Connection's answer (`connection_test.TestResult`), also when Stripe said no."""

    model_config = ConfigDict(from_attributes=True)

    ok: bool
    account_id: str | None
    account_name: str | None
    mode: Mode | None
    message: str
    country: str | None = Field(
        default=None,
        description="The Stripe account's country, when the key may read the account "
        "(restricted keys may not)",
    )
    missing_permissions: list[str] = Field(
        default_factory=list,
        description="A restricted key's missing permissions, as the Stripe Dashboard names "
        'them (e.g. "Events (Read)")',
    )


class StripeLastTest(BaseModel):
    ok: bool
    at: IsoDatetime
    account_id: str | None
    message: str


class StripeWebhookRejection(BaseModel):
    at: IsoDatetime
    reason: str


class StripeLastReconcile(BaseModel):
    at: IsoDatetime
    ok: bool
    message: str
    checkpoint: IsoDatetime | None = Field(
        description="Stripe events up to this time have been read (the next run starts there)"
    )


class StripePermission(BaseModel):
    """A permission a restricted key needs, as the Stripe Dashboard names it."""

    resource: str
    access: Literal["Read", "Write"]
    why: str


class StripeStatus(BaseModel):
    """The org's Stripe connection (`settings.status`); secrets only as a hint."""

    configured: bool
    mode: Mode | None
    publishable_key: str | None
    secret_key_hint: str | None
    webhook_url: str
    webhook_signing_secret_configured: bool
    # The events to select on the org's webhook endpoint (snapshot payloads, "Your account").
    webhook_events: list[str]
    last_test: StripeLastTest | None
    last_webhook_at: IsoDatetime | None
    last_webhook_rejection: StripeWebhookRejection | None
    last_reconcile: StripeLastReconcile | None
    catalog: CatalogSummary
    account_country: str | None = Field(
        description="The Stripe account's country (read by Test Connection, or picked)"
    )
    payment_methods: list[Literal["card", "us_bank_account"]] = Field(
        description="What invoices offer (ACH, us_bank_account, on USD invoices only)"
    )
    payment_methods_default: bool = Field(
        description="True while the org has not chosen: the account's default is used"
    )
    ach_available: bool = Field(description="ACH Direct Debit needs a Stripe account in the US")
    required_permissions: list[StripePermission] = Field(
        description="Every permission a restricted key needs for Regentra"
    )


class ReconcileReport(BaseModel):
    """One reconciliation run (`reconcile.Report`), also when Stripe failed it."""

    model_config = ConfigDict(from_attributes=True)

    org_id: uuid.UUID
    ok: bool
    message: str
    open_invoices: int
    paid: list[str] = Field(description="Numbers of our invoices this run marked paid")
    warnings: list[str]
    stripe_calls: int = Field(description="Stripe calls made for the open invoices")
    movements_read: int = Field(description="Refunds, disputes and payouts read from Stripe")
    movements_changed: int = Field(description="Of those, how many changed here")
