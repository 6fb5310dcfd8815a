"""Password hashing: production parameters (the test process hashes cheaply, see conftest)."""

from __future__ import annotations

from typing import Any

from argon2 import extract_parameters
from conftest import PRODUCTION_HASHER

from regentra.auth import passwords


def test_production_hashes_with_argon2id_at_the_recommended_cost() -> None:
    hasher = PRODUCTION_HASHER()
    stored = hasher.hash("correct-horse-battery")
    params = extract_parameters(stored)
    assert stored.startswith("$argon2id$")
    # pwdlib's recommended argon2id costs (RFC 9106's second recommendation, argon2-cffi's
    # defaults): 64 MiB, 3 passes, 4 lanes. A cheaper setting in production would be a defect.
    assert (params.memory_cost, params.time_cost, params.parallelism) == (65536, 3, 4)
    assert hasher.verify("correct-horse-battery", stored)
    assert not hasher.verify("correct-horse-batterz", stored)


def test_a_cheap_test_hash_still_verifies_through_the_product_code() -> None:
    """Hashes made here carry their own costs: the product verifies them either way."""
    stored = passwords.hash_password("correct-horse-battery")
    assert extract_parameters(stored).time_cost == 1
    assert passwords.verify_password("correct-horse-battery", stored)
    assert PRODUCTION_HASHER().verify("correct-horse-battery", stored)
    assert not passwords.verify_password("wrong-password!", stored)


def test_new_passwords_need_twelve_characters_and_strength() -> None:
    import pytest

    from regentra.errors import Invalid

    with pytest.raises(Invalid, match="at least 12 characters"):
        passwords.hash_password("Xq7#vR2!mK9")  # 11 characters, however random
    with pytest.raises(Invalid) as weak:
        passwords.hash_password("passwordpassword")
    assert weak.value.code == "weak_password"
    # The estimator's own feedback is the message.
    assert 'Repeats like "abcabcabc"' in weak.value.message
    with pytest.raises(Invalid, match="too easy to guess"):
        passwords.hash_password("qwertyuiop123")
    # Words about the account count against it.
    with pytest.raises(Invalid, match="too easy to guess"):
        passwords.hash_password(
            "acmewidgetsjanedoe", context=("janedoe@acmewidgets.example", "Jane Doe")
        )
    assert passwords.hash_password("acmewidgetsjanedoe")  # strong for anyone else
    assert passwords.hash_password("regentra-demo")  # the demo's published password passes
    assert passwords.hash_password("x" * 30 + "tangerine-oboe-glacier-" * 9)  # long, capped


def test_existing_short_passwords_keep_working(make_org: Any, site: Any) -> None:
    """Hashes stored before the policy (10 characters was enough) still sign in."""
    from sqlalchemy import update
    from web.pages import PageClient

    from regentra.models import User

    kit = make_org()
    tech = kit.add_user("technician")
    with kit.db.session() as s:
        legacy = passwords._hasher().hash("tenletters")
        s.execute(update(User).where(User.id == tech.id).values(password_hash=legacy))
        s.commit()
    with PageClient(site) as page:
        page.login(tech.email, "tenletters")
    with kit.api() as api:
        r = api.post(
            "/users",
            json={"email": "weak@example.com", "password": "aaaaaaaaaaaa", "role": "technician"},
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "weak_password"
        assert "Repeats like" in r.json()["error"]["message"]
