"""Seeded companies: one USD, one GBP with multicurrency on, each with an MSP's chart of
accounts (Checking, "Stripe Clearing", Undeposited Funds, Merchant Fees, Services income,
Accounts Receivable), the vendor "Stripe" and the service item "Services"."""

from __future__ import annotations

from typing import Any

from regentra.sandbox.quickbooks.state import Company, Sandbox

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


def seed_default_companies(sandbox: Sandbox) -> None:
    sandbox.add_company("Regentra Sandbox US", "USD", multicurrency=False, country="US")
    sandbox.add_company("Regentra Sandbox UK", "GBP", multicurrency=True, country="GB")


def _ref(obj: dict[str, Any], name_field: str = "Name") -> dict[str, str]:
    return {"value": obj["Id"], "name": obj[name_field]}


def seed_company(sandbox: Sandbox, company: Company) -> None:
    currency = {"value": company.home_currency}
    accounts = {}
    for name, kind, sub, classification in CHART:
        accounts[name] = sandbox.insert(
            company,
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
    sandbox.insert(
        company,
        "Vendor",
        {"DisplayName": "Stripe", "Active": True, "Balance": 0, "CurrencyRef": currency},
    )
    sandbox.insert(
        company,
        "Item",
        {
            "Name": "Services",
            "FullyQualifiedName": "Services",
            "Type": "Service",
            "Active": True,
            "IncomeAccountRef": _ref(accounts["Services"]),
        },
    )
    sandbox.insert(
        company,
        "CompanyInfo",
        {
            "CompanyName": company.name,
            "LegalName": company.name,
            "Country": company.country,
            "SupportedLanguages": "en",
        },
    )
    # CompanyInfo's Id is the realm id, as QuickBooks answers it.
    info = company.of("CompanyInfo").pop(str(company.next_id - 1))
    info["Id"] = company.realm_id
    company.of("CompanyInfo")[company.realm_id] = info
    sandbox.insert(
        company,
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
