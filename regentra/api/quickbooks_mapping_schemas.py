"""Response models of Settings → Integrations → QuickBooks: the mapping (saved and live
choices) and the postings (`postings.describe` plus the invoice)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from regentra.invoices.schemas import InvoiceDetail
from regentra.kit.time import IsoDatetime
from regentra.models import MovementKind, PostingKind, PostingState

MappingFieldName = Literal[
    "deposit_account",
    "other_deposit_account",
    "fee_account",
    "fee_paid_from_account",
    "fee_vendor",
    "income_item",
    "payout_account",
    "dispute_account",
]


class QuickBooksObject(BaseModel):
    """An account, vendor or item of the company, as QuickBooks names it."""

    id: str
    name: str
    type: str = Field(description="AccountType (Bank, Expense, …), Vendor, or the Item Type")
    subtype: str | None = Field(description="AccountSubType, e.g. UndepositedFunds")
    currency: str | None
    active: bool


class MappingFieldChoices(BaseModel):
    label: str
    help: str
    entity: Literal["Account", "Vendor", "Item"]
    allowed_types: list[str] = Field(description="Empty: any vendor")
    optional: bool = Field(default=False, description="May be left unset when saving")
    options: list[QuickBooksObject] = Field(description="Active objects of an allowed type")
    suggested_id: str | None = Field(description="Preselected on the card")
    create_suggested: str | None = Field(
        default=None, description='fee_vendor only: a name to create ("Stripe") when none exists'
    )


class MappingChoices(BaseModel):
    fields: dict[MappingFieldName, MappingFieldChoices]


class SavedField(BaseModel):
    id: str | None
    name: str | None
    type: str | None


class SavedMapping(BaseModel):
    saved_at: IsoDatetime
    post_from: date | None
    fields: dict[MappingFieldName, SavedField]


class CatalogItemMapping(BaseModel):
    """An active catalog item and the QuickBooks item its invoice lines post to."""

    catalog_item_id: uuid.UUID
    name: str
    currency: str | None
    quickbooks_item_id: str | None = Field(
        description="Null: its lines post to the mapping's income item"
    )
    quickbooks_item_name: str | None = Field(description="As named when it was chosen")


class QuickBooksMapping(BaseModel):
    """The org's mapping: what is saved, notes about it (Undeposited Funds), and on GET the
    company's live choices with a suggestion per field."""

    realm_id: str
    company_name: str | None
    saved: SavedMapping | None = Field(description="Null until a mapping is saved")
    notes: list[str]
    choices: MappingChoices | None = Field(description="Read live on GET; null on PUT")
    catalog_items: list[CatalogItemMapping] = Field(
        default_factory=list,
        description="The org's active catalog items, each with the income item its lines post "
        "to (chosen among `choices.fields.income_item.options`)",
    )
    suggested_post_from: date


class PostingOut(BaseModel):
    """One posting (`postings.describe`): what Regentra put, or tries to put, in QuickBooks
    for one invoice. Amounts in the currency's minor units."""

    id: uuid.UUID
    kind: PostingKind
    state: PostingState
    quickbooks_id: str | None
    quickbooks_type: str | None
    amount: int | None
    currency: str | None
    attempts: int
    error: str | None = Field(description="QuickBooks' words when it refused, or why skipped")
    posted_at: IsoDatetime | None
    updated_at: IsoDatetime | None


class MovementPostingOut(BaseModel):
    """One movement posting (`movements.describe`): what Regentra put, or tries to put, in
    QuickBooks for a refund, a dispute or a payout. Amounts in the currency's minor units."""

    id: uuid.UUID
    kind: MovementKind
    state: PostingState
    quickbooks_id: str | None
    quickbooks_type: str | None = Field(description="RefundReceipt, Purchase, Deposit, Transfer")
    amount: int | None
    currency: str | None
    attempts: int
    error: str | None = Field(description="QuickBooks' words when it refused, or why skipped")
    posted_at: IsoDatetime | None
    updated_at: IsoDatetime | None
    subject: Literal["refund", "dispute", "payout"]
    subject_id: uuid.UUID = Field(description="The refund, dispute or payout")
    invoice_id: uuid.UUID | None = Field(description="The invoice refunded or disputed")


class PostingListItem(PostingOut):
    invoice_id: uuid.UUID
    invoice_number: str | None


class InvoiceQuickBooks(BaseModel):
    """An invoice's postings by kind (null when there is none, e.g. QuickBooks not
    connected)."""

    invoice: PostingOut | None = None
    credit: PostingOut | None = None
    payment: PostingOut | None = None
    fee: PostingOut | None = None
    void: PostingOut | None = None


class InvoiceWithQuickBooks(InvoiceDetail):
    """`GET /api/v1/invoices/{id}` and the other answers with a whole invoice."""

    quickbooks: InvoiceQuickBooks = Field(
        description="What was posted to QuickBooks for this invoice (all null when QuickBooks "
        "was never connected)"
    )
