"""Users see and revoke their own sessions (tokens page and API); API tokens can expire."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from regentra.kit.time import utcnow
from regentra.models import ApiToken, AuditEvent, WebSession
from web.pages import PageClient, flash


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_see_and_revoke_own_sessions(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    other = kit.add_user("technician")
    with PageClient(site) as laptop, PageClient(site) as phone, PageClient(site) as theirs:
        laptop.login(tech.email)
        phone.login(tech.email)
        theirs.login(other.email)
        with kit.db.session() as s:
            mine = s.scalars(select(WebSession.id).where(WebSession.user_id == tech.id)).all()
            (their_id,) = s.scalars(select(WebSession.id).where(WebSession.user_id == other.id))
        assert len(mine) == 2
        page = laptop.get("/tokens").text
        assert page.count('action="/tokens/sessions/') == 2 and "(this browser)" in page
        assert str(their_id) not in page
        with kit.api(tech) as api:
            listed = api.get("/me/sessions")
            assert listed.status_code == 200
            assert {item["id"] for item in listed.json()["items"]} == {str(i) for i in mine}
            # Someone else's session is not ours to end.
            assert api.delete(f"/me/sessions/{their_id}").status_code == 404
        assert theirs.get("/").status_code == 200
        here = _current(laptop)
        (phone_id,) = [i for i in mine if str(i) != here]
        with kit.api(tech) as api:
            assert api.delete(f"/me/sessions/{phone_id}").status_code == 204
            assert api.delete(f"/me/sessions/{phone_id}").status_code == 404
        assert phone.get("/").status_code == 303  # signed out at once
        assert laptop.get("/").status_code == 200
        # From the page: not someone else's session; then the laptop signs itself out.
        laptop.get("/tokens")
        assert laptop.post(f"/tokens/sessions/{their_id}/revoke").status_code == 404
        r = laptop.post(f"/tokens/sessions/{here}/revoke")
        assert r.status_code == 303
        assert laptop.get("/").status_code == 303
    with kit.db.session() as s:
        revoked = s.scalars(
            select(AuditEvent).where(
                AuditEvent.subject_id == str(tech.id), AuditEvent.action == "web_session.revoked"
            )
        ).all()
        assert len(revoked) == 2
        assert s.get(WebSession, their_id) is not None


def _current(page: PageClient) -> str:
    html = page.get("/tokens").text
    match = re.search(
        r'data-session-id="([0-9a-f-]{36})">\s*<td class="nowrap">[^<]*<strong>\(this browser\)',
        html,
    )
    assert match, html
    return match.group(1)


def test_tokens_can_expire(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    with PageClient(site) as page:
        page.login(tech.email)
        page.get("/tokens")
        r = page.post("/tokens", {"name": "ci job", "expires_in_days": "7"})
        assert r.status_code == 201
        raw = re.search(r'id="new-token"[^>]*value="(rgt_[^"]+)"', r.text)
        assert raw
        token = raw.group(1)
        r = page.post("/tokens", {"name": "forever", "expires_in_days": ""})
        assert r.status_code == 201
        bad = page.post("/tokens", {"name": "x", "expires_in_days": "100000"})
        assert bad.status_code == 422 and "expires" in bad.text
        listing = page.get("/tokens").text
        assert "Never" in listing
        with kit.db.session() as s:
            rows = {
                t.name: t for t in s.scalars(select(ApiToken).where(ApiToken.user_id == tech.id))
            }
        assert rows["forever"].expires_at is None
        left = rows["ci job"].expires_at - utcnow()  # type: ignore[operator]
        assert timedelta(days=6, hours=23) < left <= timedelta(days=7)
        assert site.get("/api/v1/me", headers=_bearer(token)).status_code == 200
        with kit.db.session() as s:
            s.execute(
                update(ApiToken)
                .where(ApiToken.id == rows["ci job"].id)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
            s.commit()
        expired = site.get("/api/v1/me", headers=_bearer(token))
        assert expired.status_code == 401
        assert flash(page.get("/tokens").text) is None
