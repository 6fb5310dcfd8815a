"""A posting run's context: the invoice's facts and mapping, the QuickBooks client, and what
is read on demand during the run (the Stripe payment and fee, QuickBooks' exchange rates, the
client's Customer), plus the lookup of an object an earlier attempt may have made."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import update

from regentra import queue
from regentra.db import session_scope
from regentra.integrations.quickbooks import customers
from regentra.integrations.quickbooks.client import QuickBooks
from regentra.integrations.quickbooks.documents import quoted
from regentra.integrations.quickbooks.errors import QuickBooksRejected
from regentra.integrations.quickbooks.posting_facts import Facts, Mapping
from regentra.integrations.quickbooks.posting_rows import Row
from regentra.integrations.stripe import client as stripe_client
from regentra.integrations.stripe.errors import StripeKeyRejected, StripePermissionDenied
from regentra.integrations.stripe.fees import FeePending, NoCharge, StripeFee, read_fee
from regentra.models import PostingKind, QuickBooksConnection
from regentra.orgs.errors import StripeNotConnected

log = structlog.get_logger(__name__)

K = PostingKind
MULTICURRENCY_OFF = (
    "QuickBooks multicurrency is off and this {what} is in {currency} (the company's home "
    "currency is {home}): turn on multicurrency in QuickBooks (Settings → Account and "
    "settings → Advanced → Currency), then Retry"
)


class StripeUnreadable(Exception):
    """Stripe cannot be read now (not connected, its key refused): the posting waits, and
    runs again after Stripe is reconnected (`quickbooks.resume`) or at the hourly sweep."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotYet(queue.Transient):
    """The posting cannot be made yet (the fee's balance transaction is not there): it
    stays pending and the task tries again later."""


@dataclass
class Run:
    facts: Facts
    mapping: Mapping
    qbo: QuickBooks
    posted: dict[str, Row] = field(default_factory=dict)
    _stripe: StripeFee | NoCharge | FeePending | None = None
    _rates: dict[tuple[str, date], Decimal] = field(default_factory=dict)
    _customer: str | None = None
    generation: int = 0  # of the invoice posting running (for the Customer's requestid)

    @property
    def realm(self) -> str:
        """The company this run posts in (the connection's, checked against the client's)."""
        return self.mapping.realm_id

    def elsewhere(self, row: Row | None) -> str | None:
        """Why `row`'s object cannot be used in this run: it is in another company (the org
        has connected another one since). Nothing is ever posted against, or done to, an
        object of a company that is not the connected one."""
        if row is None or row.realm_id is None or row.realm_id == self.realm:
            return None
        return f"mirrored in company {row.realm_id}, which is not connected now"

    # ---- facts read on demand ---------------------------------------------------------

    def stripe(self) -> StripeFee | NoCharge | FeePending:
        """The invoice's Stripe payment and fee (read once per run, no transaction open).
        `NoCharge` only when Stripe itself says there was no charge (or the invoice never
        was in Stripe); Stripe not connected, or its key refused, is `StripeUnreadable`: the
        posting waits, it is never booked as paid outside Stripe."""
        if self._stripe is None:
            sid = self.facts.stripe_invoice_id
            if sid is None:
                self._stripe = NoCharge("the invoice has no Stripe invoice")
            else:
                try:
                    with session_scope() as session:
                        org_stripe = stripe_client.for_org(session, self.facts.org_id)
                except StripeNotConnected:
                    raise StripeUnreadable(
                        "waiting for Stripe: it is not connected (Settings → Integrations → "
                        "Stripe), so the payment and its fee cannot be read"
                    ) from None
                try:
                    self._stripe = read_fee(org_stripe, sid)
                except (StripeKeyRejected, StripePermissionDenied) as exc:
                    raise StripeUnreadable(
                        f"waiting for Stripe: it refused to show the payment ({exc.message})"
                    ) from None
        return self._stripe

    def rate(self, currency: str, on: date) -> Decimal:
        """QuickBooks' own rate for `currency` into the home currency on `on` (the
        ExchangeRate entity)."""
        key = (currency, on)
        if key not in self._rates:
            answer = self.qbo.request(
                "GET",
                "exchangerate",
                params={"sourcecurrencycode": currency, "asofdate": on.isoformat()},
            )
            self._rates[key] = Decimal(str(answer["ExchangeRate"]["Rate"]))
        return self._rates[key]

    def check_multicurrency(self, currency: str, what: str) -> None:
        """A foreign currency needs multicurrency on: the connection's flag, confirmed live
        when it says off (the admin may have turned it on since)."""
        if currency == self.mapping.home or self.mapping.multicurrency:
            return
        prefs = self.qbo.preferences()
        if (prefs.get("CurrencyPrefs") or {}).get("MultiCurrencyEnabled"):
            _note_multicurrency(self.facts.org_id)
            return
        raise QuickBooksRejected(
            MULTICURRENCY_OFF.format(what=what, currency=currency, home=self.mapping.home)
        )

    def customer(self) -> str:
        if self._customer is None:
            self.check_multicurrency(self.facts.currency, "invoice")
            mirror = self.posted.get(K.invoice.value)
            self._customer = customers.find_or_create(
                self.qbo,
                generation=self.generation if mirror is None else mirror.generation,
                org_id=self.facts.org_id,
                client_id=self.facts.client_id,
                name=self.facts.client_name,
                email=self.facts.client_email,
                currency=self.facts.currency,
            )
        return self._customer

    def find(self, entity: str, field_name: str, value: str) -> dict[str, Any] | None:
        """A live (not voided) object Regentra made, by its stable reference."""
        statement = f"select * from {entity} where {field_name} = {quoted(value)}"  # noqa: S608
        try:
            found = self.qbo.query(statement)
        except QuickBooksRejected as exc:
            # A field this company cannot filter on: the requestid replay is the guard.
            log.warning("quickbooks lookup refused", entity=entity, error=exc.message)
            return None
        for obj in found:
            note = str(obj.get("PrivateNote") or "")
            if note.startswith("Regentra") and note != "Voided":
                return obj
        return None


def _note_multicurrency(org_id: uuid.UUID) -> None:
    with session_scope() as session:
        session.execute(
            update(QuickBooksConnection)
            .where(QuickBooksConnection.org_id == org_id)
            .values(multicurrency=True)
            .execution_options(synchronize_session=False)
        )
