"""The ExchangeRate entity: the rate QuickBooks uses for a currency into the company's home
currency on a date (`GET /v3/company/<realm>/exchangerate?sourcecurrencycode=EUR&asofdate=
YYYY-MM-DD`), home-currency units per one unit of the source currency.

Real QuickBooks downloads market rates daily; the sandbox has a fixed table (`USD_PER_UNIT`,
the same figures as the Stripe sandbox's, so the two agree in tests) and answers the same
rate for every date. Only multicurrency companies have exchange rates.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from regentra.sandbox.quickbooks.errors import business, invalid, required
from regentra.sandbox.quickbooks.state import Company, Sandbox

# US dollars per one unit of the currency (fixed; roughly late-2026 mid-market).
USD_PER_UNIT = {
    "USD": Decimal("1"),
    "EUR": Decimal("1.08"),
    "GBP": Decimal("1.27"),
    "CAD": Decimal("0.73"),
    "AUD": Decimal("0.66"),
    "NZD": Decimal("0.60"),
    "CHF": Decimal("1.13"),
    "SEK": Decimal("0.095"),
    "NOK": Decimal("0.092"),
    "DKK": Decimal("0.145"),
    "JPY": Decimal("0.0067"),
    "MXN": Decimal("0.058"),
    "BRL": Decimal("0.20"),
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def exchange_rate(sandbox: Sandbox, company: Company, params: Any) -> dict[str, Any]:
    source = str(params.get("sourcecurrencycode") or "").upper()
    if not source:
        raise required("sourcecurrencycode")
    as_of = str(params.get("asofdate") or sandbox.stamp()[:10])
    if not _DATE.match(as_of):
        raise invalid(f"asofdate must be YYYY-MM-DD, not {as_of!r}", "asofdate")
    if not company.multicurrency:
        raise business(
            "Multicurrency is not enabled for this company: it has no exchange rates",
            "sourcecurrencycode",
        )
    home = company.home_currency
    if source not in USD_PER_UNIT or home not in USD_PER_UNIT:
        raise business(f"No exchange rate for {source} into {home}", "sourcecurrencycode")
    rate = (USD_PER_UNIT[source] / USD_PER_UNIT[home]).quantize(Decimal("0.000001"))
    return {
        "SourceCurrencyCode": source,
        "TargetCurrencyCode": home,
        "Rate": float(rate),
        "AsOfDate": as_of,
        "SyncToken": "0",
        "domain": "QBO",
        "MetaData": {"LastUpdatedTime": sandbox.stamp()},
    }
