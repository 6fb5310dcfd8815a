"""API tokens from the web: created and shown once, usable, revocable, never stored raw."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from regentra.models import ApiToken, AuditEvent
from web.pages import PageClient


def test_create_use_and_revoke_a_token(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    other = kit.add_user("technician")
    others_token = kit.token(other)
    with PageClient(site) as page:
        page.login(tech.email)
        assert 'href="/tokens"' in page.get("/").text
        r = page.post("/tokens", {"name": "laptop script"})
        assert r.status_code == 201
        assert r.headers["cache-control"] == "no-store"
        raw = re.search(r'id="new-token"[^>]*value="(rgt_[^"]+)"', r.text)
        assert raw, r.text
        token = raw.group(1)
        me = site.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["email"] == tech.email
        listing = page.get("/tokens").text
        assert token not in listing  # shown once
        assert "laptop script" in listing and token[:10] in listing
        with kit.db.session() as s:
            row = s.scalars(select(ApiToken).where(ApiToken.user_id == tech.id)).one()
            other_row = s.scalars(select(ApiToken).where(ApiToken.user_id == other.id)).one()
            assert token not in (row.token_hash, row.prefix)
        # Someone else's token is not ours to revoke.
        assert page.post(f"/tokens/{other_row.id}/revoke").status_code == 404
        r = page.post(f"/tokens/{row.id}/revoke")
        assert r.status_code == 303
        me = site.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 401
    ok = site.get("/api/v1/me", headers={"Authorization": f"Bearer {others_token}"})
    assert ok.status_code == 200
    with kit.db.session() as s:
        actions = s.scalars(
            select(AuditEvent.action).where(AuditEvent.subject_id == str(tech.id))
        ).all()
    assert {"api_token.created", "api_token.revoked"} <= set(actions)
