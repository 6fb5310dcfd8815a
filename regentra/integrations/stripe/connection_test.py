"""Test Connection: ask Stripe whether an org's key works, never raising.

A secret key reads the account (`GET /v1/account`): its name, country and whether ACH is
activated. A restricted key may not read the account, so the permissions Regentra uses are
checked instead (`permissions.missing_permissions`), each missing one named as Stripe's
Dashboard names it. Storing the answer is `settings.record_test`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import structlog

from regentra.errors import RegentraError
from regentra.integrations.stripe import permissions
from regentra.integrations.stripe.client import OrgStripe, key_mode, redact

log = structlog.get_logger(__name__)
T = TypeVar("T")

Mode = Literal["test", "live"]


def mode_of(key: str) -> Mode:
    return "live" if key_mode(key) == "live" else "test"


@dataclass(frozen=True)
class TestResult:
    ok: bool
    account_id: str | None
    account_name: str | None
    mode: Mode | None
    message: str
    # The account's country, when the key may read the account (a restricted key may not).
    country: str | None = None
    # Whether the account's ACH Direct Debit capability is active (read with the account).
    ach_active: bool | None = None
    # A restricted key's missing permissions, as the Dashboard names them ("Events (Read)").
    missing_permissions: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "account_id": self.account_id,
            "account_name": self.account_name,
            "mode": self.mode,
            "message": self.message,
            "country": self.country,
            "missing_permissions": list(self.missing_permissions),
        }


def clean_message(message: str) -> str:
    """A vendor message safe to store and show: anything key-shaped is masked."""
    return redact(message)[:500]


def _account_name(account: dict[str, Any]) -> str | None:
    profile = account.get("business_profile") or {}
    dashboard = (account.get("settings") or {}).get("dashboard") or {}
    name = profile.get("name") or dashboard.get("display_name") or account.get("email")
    return str(name) if name else None


def _answer(
    org_id: uuid.UUID, mode: Mode | None, ask: Callable[[], T]
) -> tuple[T | None, TestResult | None]:
    """`ask()`'s answer, or the failed TestResult that says why: the check must answer,
    whatever the client raised."""
    try:
        return ask(), None
    except RegentraError as exc:
        return None, TestResult(False, None, None, mode, clean_message(exc.message))
    except Exception as exc:
        log.warning("stripe connection test failed", org_id=str(org_id), error=type(exc).__name__)
        return None, TestResult(
            False, None, None, mode, "Could not check the connection with Stripe; try again."
        )


def _check_restricted(*, org_id: uuid.UUID, secret_key: str) -> TestResult:
    """A restricted key may not read the account: check the permissions Regentra uses."""
    mode = mode_of(secret_key)
    stripe = OrgStripe(org_id=org_id, secret_key=secret_key)
    missing, failed = _answer(org_id, mode, lambda: permissions.missing_permissions(stripe))
    if failed is not None:
        return failed
    if missing:
        return TestResult(
            False,
            None,
            None,
            mode,
            clean_message(permissions.describe_missing(missing)),
            missing_permissions=tuple(p.label for p in missing),
        )
    message = (
        f"Connected to Stripe with a restricted key in {mode} mode: it has every permission "
        "Regentra needs. A restricted key cannot read the account's name or country: pick "
        "the account's country under Payment methods."
    )
    return TestResult(True, None, None, mode, clean_message(message))


def check(*, org_id: uuid.UUID, secret_key: str) -> TestResult:
    """Ask Stripe who the key belongs to (`GET /v1/account`); a restricted key, which may
    not, has its permissions checked instead. Never raises: a failure is `ok=False` with a
    message a person can act on."""
    if secret_key.startswith("rk_"):
        return _check_restricted(org_id=org_id, secret_key=secret_key)
    mode = mode_of(secret_key)
    stripe = OrgStripe(org_id=org_id, secret_key=secret_key)
    account, failed = _answer(org_id, mode, stripe.retrieve_account)
    if failed is not None or account is None:
        return failed or TestResult(False, None, None, mode, "Stripe gave no answer; try again.")
    account_id = str(account.get("id") or "") or None
    name = _account_name(account)
    who = f"{name} ({account_id})" if name else str(account_id)
    message = f"Connected to Stripe account {who} in {mode} mode."
    if mode == "test":
        message += " Test keys process no real payments."
    country = account.get("country")
    capabilities = account.get("capabilities") or {}
    return TestResult(
        True,
        account_id,
        name,
        mode,
        clean_message(message),
        country=str(country).upper() if isinstance(country, str) and country else None,
        ach_active=capabilities.get("us_bank_account_ach_payments") == "active",
    )
