"""Organization settings (admins): name, time zone (chosen from the IANA zones; the service
checks it again), currency, default rate, self-approval."""

from __future__ import annotations

from functools import cache

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from regentra.audit.service import Actor
from regentra.errors import RegentraError
from regentra.http.deps import SessionDep
from regentra.kit.time import time_zones
from regentra.models import Org
from regentra.orgs import service
from regentra.orgs.schemas import OrgUpdate
from regentra.web.auth import AdminPage
from regentra.web.forms import FormDep, checkbox, failure, parse_amount, text
from regentra.web.templating import major_units, redirect, render

router = APIRouter(prefix="/settings")


def _values(org: Org) -> dict[str, str]:
    return {
        "name": org.name,
        "timezone": org.timezone,
        "default_currency": org.default_currency,
        "default_hourly_rate": major_units(org.default_hourly_rate, org.default_currency),
        "allow_self_approval": "on" if org.allow_self_approval else "",
    }


@cache
def _zone_groups() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The IANA zones by region ("America", "Europe", ...), for the time zone list; the
    names without a region (UTC, GMT, EST5EDT, ...) last, as "Other"."""
    groups: dict[str, list[str]] = {}
    for zone in time_zones():
        region = zone.split("/", 1)[0] if "/" in zone else "Other"
        groups.setdefault(region, []).append(zone)
    order = sorted(groups, key=lambda region: (region == "Other", region))
    return tuple((region, tuple(groups[region])) for region in order)


def _page(
    request: Request, values: dict[str, str], *, error: str | None = None, status: int = 200
) -> Response:
    context = {
        "title": "Organization",
        "values": values,
        "timezones": time_zones(),
        "timezone_groups": _zone_groups(),
        "error": error,
    }
    return render(request, "settings/org.html", context, status=status)


@router.get("")
def org_settings(request: Request, account: AdminPage) -> Response:
    return _page(request, _values(account.org))


@router.post("")
def save_org_settings(
    request: Request, session: SessionDep, account: AdminPage, form: FormDep
) -> Response:
    currency = text(form, "default_currency").upper()
    try:
        rate = parse_amount(text(form, "default_hourly_rate"), currency or "USD", "Hourly rate")
        data = OrgUpdate(
            name=text(form, "name"),
            timezone=text(form, "timezone"),
            default_currency=currency,
            default_hourly_rate=rate or 0,
            allow_self_approval=checkbox(form, "allow_self_approval"),
        )
        service.update_org(session, org_id=account.org.id, data=data, actor=Actor.of(account.user))
    except (RegentraError, ValidationError) as exc:
        session.rollback()
        message, status = failure(exc)
        typed = {k: text(form, k) for k in ("name", "timezone", "default_currency")}
        typed["default_hourly_rate"] = text(form, "default_hourly_rate")
        typed["allow_self_approval"] = "on" if checkbox(form, "allow_self_approval") else ""
        return _page(request, typed, error=message, status=status)
    return redirect("/settings", success="Organization settings saved.")
