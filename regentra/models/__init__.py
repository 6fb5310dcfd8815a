"""All tables, imported here so Alembic and the mappers see every one."""

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
from regentra.models.login_throttle import LoginThrottle
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
    PostingKind,
    PostingState,
    QuickBooksConnection,
    QuickBooksCustomer,
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
    "ActorType",
    "ApiToken",
    "AuditEvent",
    "Base",
    "CatalogItem",
    "CatalogPricing",
    "CatalogSource",
    "CatalogSync",
    "Client",
    "EntryStatus",
    "Invoice",
    "InvoiceLine",
    "InvoiceStatus",
    "LineKind",
    "LoginThrottle",
    "Org",
    "OrgBilling",
    "OrgSecret",
    "PasswordReset",
    "PlatformEvent",
    "PlatformSettings",
    "PostingKind",
    "PostingState",
    "QuickBooksConnection",
    "QuickBooksCustomer",
    "QuickBooksOAuthState",
    "QuickBooksPosting",
    "Role",
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
