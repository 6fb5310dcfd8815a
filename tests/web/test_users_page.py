"""The Users page does what the API does: change a role, deactivate and reactivate, with
CSRF, admins only, and the last active admin kept."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from regentra.models import User
from web.pages import PageClient, flash


def _user(kit: Any, user: User) -> User:
    with kit.db.session() as s:
        found = s.get(User, user.id)
        assert found is not None
        return found


def test_admin_changes_role_deactivates_and_reactivates(make_org: Any, site: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    with PageClient(site) as victim, PageClient(site) as page:
        victim.login(tech.email)
        page.login(kit.admin.email)
        listing = page.get("/users").text
        assert f'action="/users/{tech.id}/deactivate"' in listing
        assert f'action="/users/{tech.id}/role"' in listing
        # No CSRF token, no change.
        bare = page.http.post(f"/users/{tech.id}/deactivate")
        assert bare.status_code == 403
        assert _user(kit, tech).is_active
        r = page.post(f"/users/{tech.id}/role", {"role": "approver"})
        assert flash(page.follow(r).text) == ("success", f"{tech.email} is now approver.")
        assert _user(kit, tech).role == "approver"
        r = page.post(f"/users/{tech.id}/deactivate")
        shown = page.follow(r).text
        assert flash(shown)[0] == "success"  # type: ignore[index]
        assert f'action="/users/{tech.id}/reactivate"' in shown
        assert not _user(kit, tech).is_active
        assert victim.get("/").status_code == 303  # signed out at once
        r = page.post(f"/users/{tech.id}/reactivate")
        assert flash(page.follow(r).text) == ("success", f"{tech.email} can sign in again.")
        assert _user(kit, tech).is_active
        # The last active admin stays: refused in words, nothing changed.
        r = page.post(f"/users/{kit.admin.id}/deactivate")
        kind, message = flash(page.follow(r).text) or ("", "")
        assert kind == "error" and "last active admin" in message
        r = page.post(f"/users/{kit.admin.id}/role", {"role": "technician"})
        assert flash(page.follow(r).text)[0] == "error"  # type: ignore[index]
        assert _user(kit, kit.admin).role == "admin" and _user(kit, kit.admin).is_active
        r = page.post(f"/users/{tech.id}/role", {"role": "wizard"})
        kind, message = flash(page.follow(r).text) or ("", "")
        assert kind == "error" and "role must be one of" in message


def test_only_admins_and_only_their_org(make_org: Any, site: Any) -> None:
    kit = make_org()
    approver = kit.add_user("approver")
    other = make_org("Other MSP")
    with PageClient(site) as page:
        page.login(approver.email)
        page.get("/")
        assert page.post(f"/users/{kit.admin.id}/deactivate").status_code == 403
    with PageClient(site) as page:
        page.login(other.admin.email)
        page.get("/users")
        assert page.post(f"/users/{approver.id}/deactivate").status_code == 404
        assert page.post(f"/users/{approver.id}/role", {"role": "admin"}).status_code == 404
        assert page.post(f"/users/{approver.id}/password-reset").status_code == 404
    with kit.db.session() as s:
        row = s.scalars(select(User).where(User.id == approver.id)).one()
        assert row.is_active and row.role == "approver"
