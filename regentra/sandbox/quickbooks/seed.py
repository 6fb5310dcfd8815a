"""Seeded companies: one USD, one GBP with multicurrency on, each with an MSP's chart of
accounts (Checking, "Stripe Clearing", Undeposited Funds, Merchant Fees, Services income,
Accounts Receivable), the vendor "Stripe" and the service item "Services"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

Insert = Callable[[str, dict[str, Any]], dict[str, Any]]


class Books(Protocol):
    """What seeding needs of a company (state.Company), without importing it."""

    realm_id: str
    name: str
    home_currency: str
    multicurrency: bool
    country: str

    def of(self, entity: str) -> dict[str, dict[str, Any]]: ...


# (Name, AccountType, AccountSubType, Classification)
CHART = [
    ("Checking", "Bank", "Checking", "Asset"),
    ("Stripe Clearing", "Bank", "CashOnHand", "Asset"),
    ("Undeposited Funds", "Other Current Asset", "UndepositedFunds", "Asset"),
    ("Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable", "Asset"),
    ("Services", "Income", "ServiceFeeIncome", "Revenue"),
    ("Merchant Fees", "Expense", "BankCharges", "Expense"),
    ("Company Card", "Credit Card", "CreditCard", "Liability"),
]


# (name, home currency, multicurrency, country)
DEFAULT_COMPANIES = [
    ("Regentra Sandbox US", "USD", False, "US"),
    ("Regentra Sandbox UK", "GBP", True, "GB"),
]


def _ref(obj: dict[str, Any], name_field: str = "Name") -> dict[str, str]:
    return {"value": obj["Id"], "name": obj[name_field]}


def seed_company(company: Books, insert: Insert) -> None:
    currency = {"value": company.home_currency}
    accounts = {}
    for name, kind, sub, classification in CHART:
        accounts[name] = insert(
            "Account",
            {
                "Name": name,
                "FullyQualifiedName": name,
                "AccountType": kind,
                "AccountSubType": sub,
                "Classification": classification,
                "Active": True,
                "SubAccount": False,
                "CurrentBalance": 0,
                "CurrencyRef": currency,
            },
        )
    insert(
        "Vendor",
        {"DisplayName": "Stripe", "Active": True, "Balance": 0, "CurrencyRef": currency},
    )
    insert(
        "Item",
        {
            "Name": "Services",
            "FullyQualifiedName": "Services",
            "Type": "Service",
            "Active": True,
            "IncomeAccountRef": _ref(accounts["Services"]),
        },
    )
    info = insert(
        "CompanyInfo",
        {
            "CompanyName": company.name,
            "LegalName": company.name,
            "Country": company.country,
            "SupportedLanguages": "en",
        },
    )
    # CompanyInfo's Id is the realm id, as QuickBooks answers it.
    del company.of("CompanyInfo")[info["Id"]]
    info["Id"] = company.realm_id
    company.of("CompanyInfo")[company.realm_id] = info
    insert(
        "Preferences",
        {
            "CurrencyPrefs": {
                "HomeCurrency": currency,
                "MultiCurrencyEnabled": company.multicurrency,
            },
            # "Warn if duplicate ... number is used": QuickBooks' default is on (a warning in
            # the UI); the API refuses duplicates only when custom transaction numbers are on.
            "SalesFormsPrefs": {"CustomTxnNumbers": True},
            "OtherPrefs": {"NameValue": [{"Name": "WarnDuplicateCheckNumber", "Value": "true"}]},
        },
    )
