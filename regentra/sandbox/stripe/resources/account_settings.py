"""The account's settings and restricted keys, as the Dashboard would set them.

Control routes (secret key only): `POST /_sandbox/restricted_keys` makes a restricted key
(`{"permissions": {"<resource>": "read"|"write"}}` → `{"secret": "rk_test_…"}`), and
`GET|POST /_sandbox/account` reads or sets the account's `country` (default US), settlement
`default_currency` (default: the country's) and `payment_methods`, the invoice payment
methods activated (default card and us_bank_account).

Rules the API applies from them: `us_bank_account` (ACH Direct Debit) exists only for US
accounts that activated it (docs.stripe.com/payments/ach-direct-debit); an invoice without
`payment_settings.payment_method_types` offers the account's activated methods that fit its
currency (ACH: USD only); `GET /v1/account` shows the country and currency.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from regentra.sandbox.stripe import permissions
from regentra.sandbox.stripe.errors import StripeError, unknown_parameter
from regentra.sandbox.stripe.routing import Ctx, Router
from regentra.sandbox.stripe.state import Account, random_token

router = Router()

# Countries the sandbox's accounts may be in → their default settlement currency.
COUNTRIES = {
    "US": "usd",
    "CA": "cad",
    "GB": "gbp",
    "AU": "aud",
    "NZ": "nzd",
    "IE": "eur",
    "DE": "eur",
    "FR": "eur",
    "NL": "eur",
    "ES": "eur",
    "IT": "eur",
    "BR": "brl",
    "MX": "mxn",
    "JP": "jpy",
    "SG": "sgd",
    "CH": "chf",
}
SETTLEMENT_CURRENCIES = frozenset(COUNTRIES.values())
# Invoice payment methods the sandbox knows (`payment_settings.payment_method_types`).
METHODS = ("card", "us_bank_account")
ACH = "us_bank_account"


# ---- the rules ---------------------------------------------------------------------------
def invalid_type(pm_type: str, param: str) -> StripeError:
    """Stripe's refusal of a payment method type the account cannot use (wording as in
    stripe-node#1472; Stripe documents no specific code, so none is sent)."""
    return StripeError(
        f'The payment method type "{pm_type}" is invalid. Please ensure the provided type is '
        "activated in your dashboard (https://dashboard.stripe.com/account/payments/settings) "
        "and your account is enabled for any preview features that you are trying to use.",
        param=param,
    )


def check_types(account: Account, types: list[str] | None, param: str) -> None:
    """Refuse `us_bank_account` unless the account is in the US and has it activated."""
    for pm_type in types or []:
        if pm_type == ACH and (account.country != "US" or ACH not in account.payment_methods):
            raise invalid_type(pm_type, param)


def offered_types(account: Account, invoice: dict[str, Any]) -> list[str]:
    """The payment method types an invoice offers: its own
    `payment_settings.payment_method_types`, else the account's activated ones that fit
    the invoice's currency (ACH Direct Debit: USD, US accounts)."""
    explicit = (invoice.get("payment_settings") or {}).get("payment_method_types")
    if explicit:
        return list(explicit)
    offered = []
    for pm_type in account.payment_methods:
        if pm_type == ACH and (account.country != "US" or invoice.get("currency") != "usd"):
            continue
        offered.append(pm_type)
    return offered


# ---- control routes ----------------------------------------------------------------------
def _only(params: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for name in params:
        if name not in allowed:
            raise unknown_parameter(name)


def _settings_json(account: Account) -> dict[str, Any]:
    return {
        "object": "sandbox.account",
        "id": account.id,
        "country": account.country,
        "default_currency": account.default_currency,
        "payment_methods": list(account.payment_methods),
        "timezone": account.timezone,
    }


@router.route("GET", "/_sandbox/account", control=True)
def get_account_settings(ctx: Ctx) -> dict[str, Any]:
    _only(ctx.params, ())
    return _settings_json(ctx.account)


def _methods(raw: Any) -> list[str]:
    if isinstance(raw, dict) and all(k.isdigit() for k in raw):
        raw = [raw[k] for k in sorted(raw, key=int)]
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise StripeError(
            "Invalid payment_methods: a non-empty array of card, us_bank_account.",
            param="payment_methods",
        )
    for i, name in enumerate(raw):
        if name not in METHODS:
            raise StripeError(
                f"Invalid payment_methods[{i}]: {name!r} (one of {', '.join(METHODS)}).",
                code="parameter_invalid_string",
                param=f"payment_methods[{i}]",
            )
    return list(dict.fromkeys(raw))


def _timezone(raw: Any) -> str:
    name = str(raw)
    try:
        ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        raise StripeError(
            f"Invalid timezone: {name!r} (an IANA time zone name, e.g. America/New_York).",
            code="parameter_invalid_string",
            param="timezone",
        ) from None
    return name


@router.route("POST", "/_sandbox/account", control=True)
def set_account_settings(ctx: Ctx) -> dict[str, Any]:
    """Set `country` (its currency becomes the default unless `default_currency` is given;
    ACH is deactivated when it leaves the US), `default_currency`, `payment_methods`, and
    the Dashboard's `timezone` (an IANA name; the hosted page shows dates in it)."""
    p = ctx.params
    _only(p, ("country", "default_currency", "payment_methods", "timezone"))
    account = ctx.account
    timezone = _timezone(p["timezone"]) if "timezone" in p else account.timezone
    country = account.country
    if "country" in p:
        country = str(p["country"]).upper()
        if country not in COUNTRIES:
            raise StripeError(
                f"Invalid country: {p['country']!r} (the sandbox knows "
                f"{', '.join(sorted(COUNTRIES))}).",
                code="parameter_invalid_string",
                param="country",
            )
    currency = COUNTRIES[country] if "country" in p else account.default_currency
    if "default_currency" in p:
        currency = str(p["default_currency"]).lower()
        if currency not in SETTLEMENT_CURRENCIES:
            raise StripeError(
                f"Invalid default_currency: {p['default_currency']!r} (one of "
                f"{', '.join(sorted(SETTLEMENT_CURRENCIES))}).",
                code="parameter_invalid_string",
                param="default_currency",
            )
    methods = _methods(p["payment_methods"]) if "payment_methods" in p else None
    if methods is not None and ACH in methods and country != "US":
        raise StripeError(
            "ACH Direct Debit (us_bank_account) is available only to accounts in the US "
            "(https://docs.stripe.com/payments/ach-direct-debit).",
            param="payment_methods",
        )
    if methods is None:
        methods = [m for m in account.payment_methods if m != ACH or country == "US"] or ["card"]
    account.country, account.default_currency, account.payment_methods = (
        country,
        currency,
        methods,
    )
    account.timezone = timezone
    return _settings_json(account)


@router.route("POST", "/_sandbox/restricted_keys", control=True)
def create_restricted_key(ctx: Ctx) -> dict[str, Any]:
    """A new restricted key of this account with `permissions` ({resource: read|write};
    resources are Stripe's permission ids, see `permissions.RESOURCES`)."""
    p = ctx.params
    _only(p, ("permissions",))
    raw = p.get("permissions") or {}
    if not isinstance(raw, dict):
        raise StripeError(
            "Invalid permissions: an object of resource → read or write.", param="permissions"
        )
    granted: dict[str, str] = {}
    for resource, access in raw.items():
        if resource not in permissions.RESOURCES:
            raise StripeError(
                f"Invalid permissions[{resource}]: not a resource (one of "
                f"{', '.join(sorted(permissions.RESOURCES))}).",
                code="parameter_invalid_string",
                param=f"permissions[{resource}]",
            )
        if access not in permissions.ACCESS:
            raise StripeError(
                f"Invalid permissions[{resource}]: {access!r} (read or write).",
                code="parameter_invalid_string",
                param=f"permissions[{resource}]",
            )
        granted[resource] = access
    account = ctx.account
    secret = f"rk_{'live' if account.livemode else 'test'}_{random_token(32)}"
    account.restricted_keys[secret] = granted
    ctx.sandbox.aliases[secret] = account.key
    return {
        "object": "sandbox.restricted_key",
        "secret": secret,
        "account": account.id,
        "permissions": granted,
    }
