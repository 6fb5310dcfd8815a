"""Offboarding through the API: deactivation ends a user's sessions and revokes their tokens
at once, reactivation and role changes, and the org always keeps an active admin."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select
from web.pages import PageClient

from regentra.models import ApiToken, AuditEvent, User, WebSession


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _actions(kit: Any, user: User) -> list[str]:
    with kit.db.session() as s:
        stmt = select(AuditEvent.action).where(AuditEvent.subject_id == str(user.id))
        return list(s.scalars(stmt).all())


def test_deactivation_ends_sessions_and_revokes_tokens_at_once(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    token = kit.token(tech)
    assert site.get("/api/v1/me", headers=_bearer(token)).status_code == 200
    with PageClient(site) as page:
        page.login(tech.email)
        assert page.get("/").status_code == 200
        with kit.api() as api:
            r = api.post(f"/users/{tech.id}/deactivate")
        assert r.status_code == 200, r.text
        assert r.json()["is_active"] is False and r.json()["id"] == str(tech.id)
        # The very next request of the browser and of the token is refused.
        after = page.get("/")
        assert after.status_code == 303 and after.headers["location"].startswith("/login")
    refused = site.get("/api/v1/me", headers=_bearer(token))
    assert refused.status_code == 401
    with kit.db.session() as s:
        assert not s.scalar(select(func.count()).where(WebSession.user_id == tech.id))
        revoked = s.scalars(select(ApiToken.revoked_at).where(ApiToken.user_id == tech.id)).all()
        assert revoked and all(at is not None for at in revoked)
        event = s.scalars(
            select(AuditEvent).where(
                AuditEvent.subject_id == str(tech.id), AuditEvent.action == "user.deactivated"
            )
        ).one()
        assert (
            event.details["sessions_ended"] == 1 and event.details["api_credentials_revoked"] == 1
        )
    with PageClient(site) as page:
        page.get("/login")
        denied = page.post("/login", {"email": tech.email, "password": "correct-horse-battery"})
        assert denied.status_code == 401
    with kit.api() as api:
        again = api.post(f"/users/{tech.id}/reactivate")
        assert again.status_code == 200 and again.json()["is_active"] is True
    with PageClient(site) as page:
        page.login(tech.email)
    # Reactivation does not bring revoked tokens back.
    assert site.get("/api/v1/me", headers=_bearer(token)).status_code == 401
    assert {"user.deactivated", "user.reactivated"} <= set(_actions(kit, tech))


def test_last_active_admin_cannot_be_deactivated_or_demoted(make_org: Any) -> None:
    kit = make_org()
    me = kit.admin
    with kit.api() as api:
        r = api.post(f"/users/{me.id}/deactivate")
        assert r.status_code == 409, r.text
        assert r.json()["error"]["code"] == "last_active_admin"
        assert "last active admin" in r.json()["error"]["message"]
        r = api.patch(f"/users/{me.id}", json={"role": "technician"})
        assert r.status_code == 409 and r.json()["error"]["code"] == "last_active_admin"
        second = kit.add_user("admin")
        assert api.post(f"/users/{second.id}/deactivate").status_code == 200
        # A deactivated admin is no admin to fall back on.
        r = api.patch(f"/users/{me.id}", json={"role": "approver"})
        assert r.status_code == 409, r.text
        assert api.post(f"/users/{second.id}/reactivate").status_code == 200
        r = api.patch(f"/users/{me.id}", json={"role": "approver", "name": "Ex Admin"})
        assert r.status_code == 200, r.text
        assert r.json()["role"] == "approver" and r.json()["name"] == "Ex Admin"
        # Demoted: the same token now has an approver's rights.
        assert api.get("/users").status_code == 403
    assert {"user.updated", "user.role_changed"} <= set(_actions(kit, me))
    with kit.api(second) as api:
        assert api.post(f"/users/{second.id}/deactivate").status_code == 409


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"role": "wizard"}, 422),
        ({"role": None}, 422),
        ({"name": None}, 422),
        ({"name": "x" * 201}, 422),
        ({"email": "new@example.com"}, 422),
    ],
)
def test_patch_refuses_bad_input_in_words(make_org: Any, body: dict[str, Any], code: int) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    with kit.api() as api:
        r = api.patch(f"/users/{tech.id}", json=body)
        assert r.status_code == code, r.text
        assert r.json()["error"]["message"]
        assert api.post("/users/not-a-uuid/deactivate").status_code == 422


def _demote_each_other(kit: Any) -> list[int]:
    """The org's two admins each demote the other, at the same moment."""
    a, b = kit.admin, kit.add_user("admin")
    kit.token(a), kit.token(b)
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def demote(actor: User, target: User) -> None:
        with kit.api(actor) as api:
            barrier.wait()
            r = api.patch(f"/users/{target.id}", json={"role": "technician"})
            statuses.append(r.status_code)

    threads = [
        threading.Thread(target=demote, args=(a, b)),
        threading.Thread(target=demote, args=(b, a)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


@pytest.mark.e2e
def test_two_admins_demoting_each_other_at_once_leave_one_admin(
    live_server: Any, make_org: Any
) -> None:
    for _ in range(5):
        kit = make_org()
        statuses = _demote_each_other(kit)
        assert statuses.count(200) == 1, statuses
        assert set(statuses) <= {200, 403, 409}, statuses
        with kit.db.session() as s:
            admins = s.scalar(
                select(func.count()).where(
                    User.org_id == kit.org.id, User.role == "admin", User.is_active.is_(True)
                )
            )
        assert admins == 1
