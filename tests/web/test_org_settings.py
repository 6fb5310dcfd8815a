"""Org settings: an admin allows self-approval, and the rule follows at once."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from regentra.kit.time import time_zones
from regentra.models import AuditEvent, Org
from web.pages import PageClient, form_error


def test_admin_changes_settings_and_self_approval_follows(make_org: Any, site: Any) -> None:
    kit = make_org()
    approver = kit.add_user("approver")
    entry = kit.entry(approver, status="submitted")
    with kit.api(approver) as api:
        assert api.post(f"/time-entries/{entry.id}/approve").status_code == 403
    with PageClient(site) as page:
        page.login(kit.admin.email)
        form = page.get("/settings")
        assert form.status_code == 200 and 'id="org-self-approval"' in form.text
        # The time zone is chosen from the IANA zones, grouped by region, the org's selected.
        assert '<select id="org-timezone" name="timezone" required' in form.text
        offered = re.findall(r'<option value="([^"]+)"', form.text)
        assert sorted(offered) == list(time_zones())  # each zone once, nothing else
        assert '<optgroup label="Europe">' in form.text
        assert f'<option value="{kit.org.timezone}" selected>' in form.text
        assert 'value="America/New_York">America/New York</option>' in form.text
        good = {
            "name": "Renamed MSP",
            "timezone": "Europe/Berlin",
            "default_currency": "eur",
            "default_hourly_rate": "120.00",
            "allow_self_approval": "on",
        }
        r = page.post("/settings", {**good, "timezone": "Mars/Olympus"})
        assert r.status_code == 422 and "time zone" in (form_error(r.text) or "")
        r = page.post("/settings", {**good, "default_hourly_rate": "12.345"})
        assert r.status_code == 422
        with kit.db.session() as s:
            assert s.get(Org, kit.org.id).name == kit.org.name  # type: ignore[union-attr]
        r = page.post("/settings", good)
        assert r.status_code == 303
        saved = page.follow(r).text
        assert "Renamed MSP" in saved
        assert '<option value="Europe/Berlin" selected>' in saved
        assert saved.count(" selected>") == 1  # one zone chosen
    with kit.db.session() as s:
        org = s.get(Org, kit.org.id)
        assert org is not None
        assert (org.timezone, org.default_currency, org.default_hourly_rate) == (
            "Europe/Berlin",
            "EUR",
            12000,
        )
        assert org.allow_self_approval
        audit = s.scalars(
            select(AuditEvent).where(
                AuditEvent.org_id == kit.org.id, AuditEvent.action == "org.updated"
            )
        ).one()
        assert audit.details["changed"]["allow_self_approval"] is True
    with kit.api(approver) as api:
        assert api.post(f"/time-entries/{entry.id}/approve").status_code == 200
        assert api.patch("/org", json={"allow_self_approval": False}).status_code == 403
    with kit.api() as api:
        r = api.patch("/org", json={"default_currency": "ZZZ"})
        assert r.status_code == 422 and "ISO 4217" in r.json()["error"]["message"]
        r = api.patch("/org", json={"allow_self_approval": False})
        assert r.status_code == 200 and r.json()["allow_self_approval"] is False
