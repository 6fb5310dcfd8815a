"""All tables, imported here so Alembic and the mappers see every one."""

from regentra.models.agreement import (
    Agreement,
    AgreementBilling,
    AgreementBillingRecord,
    AgreementLine,
    AgreementPeriod,
    AgreementTerm,
    QuantityRule,
)
from regentra.models.api_token import ApiToken
from regentra.models.audit_event import ActorType, AuditEvent
from regentra.models.base import Base
from regentra.models.catalog_item import CatalogItem, CatalogPricing, CatalogSource
from regentra.models.catalog_sync import CatalogSync, SyncStatus
from regentra.models.client import Client
from regentra.models.invoice import (
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
)
from regentra.models.invoice_run import InvoiceRun, InvoiceRunItem, RunItemState, RunStatus
from regentra.models.login_throttle import LoginThrottle
from regentra.models.money_movement import (
    REFUND_COUNTED,
    REFUND_REASONS,
    Dispute,
    Payout,
    Refund,
    RefundStatus,
)
from regentra.models.org import Org
from regentra.models.org_secret import OrgSecret, SecretPurpose
from regentra.models.password_reset import PasswordReset
from regentra.models.platform import (
    PLATFORM_SETTINGS_ID,
    OrgBilling,
    PlatformEvent,
    PlatformSettings,
)
from regentra.models.quickbooks import (
    MovementKind,
    PostingKind,
    PostingState,
    QuickBooksConnection,
    QuickBooksCustomer,
    QuickBooksItemMapping,
    QuickBooksMovementPosting,
    QuickBooksOAuthState,
    QuickBooksPosting,
)
from regentra.models.stripe_connection import StripeConnection
from regentra.models.stripe_event import StripeEvent
from regentra.models.ticket import Ticket, TicketStatus
from regentra.models.time_entry import EntryStatus, TimeEntry
from regentra.models.user import Role, User
from regentra.models.web_session import WebSession

__all__ = [
    "PLATFORM_SETTINGS_ID",
    "REFUND_COUNTED",
    "REFUND_REASONS",
    "ActorType",
    "Agreement",
    "AgreementBilling",
    "AgreementBillingRecord",
    "AgreementLine",
    "AgreementPeriod",
    "AgreementTerm",
    "ApiToken",
    "AuditEvent",
    "Base",
    "CatalogItem",
    "CatalogPricing",
    "CatalogSource",
    "CatalogSync",
    "Client",
    "Dispute",
    "EntryStatus",
    "Invoice",
    "InvoiceLine",
    "InvoiceRun",
    "InvoiceRunItem",
    "InvoiceStatus",
    "LineKind",
    "LoginThrottle",
    "MovementKind",
    "Org",
    "OrgBilling",
    "OrgSecret",
    "PasswordReset",
    "Payout",
    "PlatformEvent",
    "PlatformSettings",
    "PostingKind",
    "PostingState",
    "QuantityRule",
    "QuickBooksConnection",
    "QuickBooksCustomer",
    "QuickBooksItemMapping",
    "QuickBooksMovementPosting",
    "QuickBooksOAuthState",
    "QuickBooksPosting",
    "Refund",
    "RefundStatus",
    "Role",
    "RunItemState",
    "RunStatus",
    "SecretPurpose",
    "StripeConnection",
    "StripeEvent",
    "SyncStatus",
    "Ticket",
    "TicketStatus",
    "TimeEntry",
    "User",
    "WebSession",
]
