"""The CLI as an operator uses it: real subprocesses on a real SQLite file."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from regentra.db import make_engine
from regentra.kit.crypto import Keyring
from regentra.models import OrgSecret

pytestmark = [pytest.mark.e2e]

ROOT = Path(__file__).resolve().parent.parent
KEY1 = "old:" + base64.b64encode(b"\x11" * 32).decode()
KEY2 = "new:" + base64.b64encode(b"\x22" * 32).decode()


def run(db_url: str, *args: str, keys: str = KEY1, check: bool = True) -> Any:
    env = {**os.environ, "REGENTRA_DATABASE_URL": db_url, "REGENTRA_ENCRYPTION_KEYS": keys}
    result = subprocess.run(
        [sys.executable, "-m", "regentra", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    run(url, "db", "upgrade")
    return url


def test_org_user_token(db_url: str) -> None:
    out = run(
        db_url,
        "org",
        "create",
        "--name",
        "Cli MSP",
        "--admin-email",
        "Owner@Cli.example.com",
        "--admin-password",
        "owner-password-1",
    )
    created = json.loads(out.stdout)
    assert set(created) >= {"org_id", "user_id"}
    out = run(
        db_url,
        "user",
        "add",
        "--org",
        created["org_id"],
        "--email",
        "tech@cli.example.com",
        "--password",
        "tech-password-1",
        "--role",
        "technician",
    )
    assert json.loads(out.stdout)["role"] == "technician"
    bad = run(
        db_url,
        "user",
        "add",
        "--org",
        created["org_id"],
        "--email",
        "x@cli.example.com",
        "--password",
        "tech-password-1",
        "--role",
        "wizard",
        check=False,
    )
    assert bad.returncode != 0 and "role must be one of" in bad.stderr
    short = run(
        db_url,
        "user",
        "add",
        "--org",
        created["org_id"],
        "--email",
        "y@cli.example.com",
        "--password",
        "short",
        "--role",
        "technician",
        check=False,
    )
    assert short.returncode != 0 and "at least 12 characters" in short.stderr
    token = run(db_url, "token", "create", "--email", "owner@cli.example.com").stdout.strip()
    assert token.startswith("rgt_")
    # The token works against a real server on the same database.
    from conftest import start_server, stop_server

    server = start_server(db_url, extra_env={"REGENTRA_ENCRYPTION_KEYS": KEY1})
    try:
        me = httpx.get(
            server.url + "/api/v1/me", headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert me["email"] == "owner@cli.example.com"
    finally:
        stop_server(server)
    # The token is stored hashed only.
    raw = Path(db_url.removeprefix("sqlite:///")).read_bytes()
    assert token.encode() not in raw
    assert b"owner-password-1" not in raw


def test_user_deactivate_reactivate_set_role(db_url: str) -> None:
    """The CLI offboards through the users service: the token dies with the deactivation,
    the last active admin is kept, each change is audited."""
    created = json.loads(
        run(
            db_url,
            *("org", "create", "--name", "Off MSP", "--admin-email", "boss@off.example.com"),
            *("--admin-password", "owner-password-1"),
        ).stdout
    )
    tech = ("--email", "tech@off.example.com")
    run(
        db_url,
        *("user", "add", "--org", created["org_id"], *tech),
        *("--password", "tech-password-1", "--role", "technician"),
    )
    token = run(db_url, "token", "create", *tech).stdout.strip()
    out = json.loads(run(db_url, "user", "deactivate", *tech).stdout)
    assert out["is_active"] is False
    refused = run(db_url, "token", "create", *tech, check=False)
    assert refused.returncode != 0 and "no active user" in refused.stderr
    out = json.loads(run(db_url, "user", "reactivate", *tech).stdout)
    assert out["is_active"] is True
    expiring = run(db_url, "token", "create", *tech, "--expires-days", "30").stdout.strip()
    assert expiring.startswith("rgt_")
    never = run(db_url, "token", "create", *tech, "--expires-days", "0", check=False)
    assert never.returncode != 0 and "expires after 1 to" in never.stderr
    out = json.loads(run(db_url, "user", "set-role", *tech, "--role", "approver").stdout)
    assert out["role"] == "approver"
    bad = run(db_url, "user", "set-role", *tech, "--role", "wizard", check=False)
    assert bad.returncode != 0 and "role must be one of" in bad.stderr
    boss = ("--email", "boss@off.example.com")
    last = run(db_url, "user", "deactivate", *boss, check=False)
    assert last.returncode != 0 and "last active admin" in last.stderr
    last = run(db_url, "user", "set-role", *boss, "--role", "technician", check=False)
    assert last.returncode != 0 and "last active admin" in last.stderr
    link = run(db_url, "user", "reset-password", *tech).stdout.strip()
    assert "/password-reset?token=" in link
    reset_token = link.rsplit("=", 1)[1]
    nobody = run(db_url, "user", "deactivate", "--email", "ghost@off.example.com", check=False)
    assert nobody.returncode != 0 and "no user with email" in nobody.stderr
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT revoked_at, expires_at FROM api_tokens ORDER BY created_at")
        ).all()
        actions = set(conn.execute(sa.text("SELECT action FROM audit_events")).scalars().all())
        resets = conn.execute(sa.text("SELECT token_hash FROM password_resets")).scalars().all()
    engine.dispose()
    # The first token died with the deactivation; the later one expires, the first never did.
    assert len(rows) == 2 and token.startswith("rgt_")
    assert rows[0][0] is not None and rows[0][1] is None
    assert rows[1][0] is None and rows[1][1] is not None
    assert {"user.deactivated", "user.reactivated", "user.role_changed"} <= actions
    assert "user.password_reset_issued" in actions
    assert len(resets) == 1 and reset_token not in resets[0]
    assert reset_token.encode() not in Path(db_url.removeprefix("sqlite:///")).read_bytes()


def test_keys_rotate_then_drop_old_key(db_url: str) -> None:
    created = json.loads(
        run(
            db_url,
            "org",
            "create",
            "--name",
            "Keys MSP",
            "--admin-email",
            "keys@cli.example.com",
            "--admin-password",
            "owner-password-1",
        ).stdout
    )
    org_id = created["org_id"]
    # The org was made with its Stripe webhook token (a secret under the old key); store two
    # more under the old key, as the integrations will.
    old_ring = Keyring.from_spec(KEY1)
    engine = make_engine(db_url)
    import uuid

    from sqlalchemy.orm import Session

    with Session(engine) as s:
        for purpose, value in (("stripe_secret_key", "sk_test_abc123"), ("qbo_refresh", "rt-x")):
            s.add(
                OrgSecret(
                    org_id=uuid.UUID(org_id),
                    purpose=purpose,
                    ciphertext=old_ring.encrypt(value, org_id=org_id, purpose=purpose),
                    key_id="old",
                )
            )
        s.commit()
    # Rotate under [new, old].
    out = run(db_url, "keys", "rotate", keys=f"{KEY2},{KEY1}")
    assert json.loads(out.stdout) == {"active_key_id": "new", "secrets": 3, "rotated": 3}
    # Again: nothing left to do.
    out = run(db_url, "keys", "rotate", keys=f"{KEY2},{KEY1}")
    assert json.loads(out.stdout)["rotated"] == 0
    # Old key dropped: everything still decrypts with the new key alone.
    new_only = Keyring.from_spec(KEY2)
    with Session(engine) as s:
        rows = s.scalars(select(OrgSecret).order_by(OrgSecret.purpose)).all()
        assert [r.key_id for r in rows] == ["new", "new", "new"]
        values = [new_only.decrypt(r.ciphertext, org_id=r.org_id, purpose=r.purpose) for r in rows]
    assert values[:2] == ["rt-x", "sk_test_abc123"]
    assert [r.purpose for r in rows][2] == "stripe_webhook_token"
    engine.dispose()
    raw = Path(db_url.removeprefix("sqlite:///")).read_bytes()
    assert b"sk_test_abc123" not in raw
    # Rotating with a keyring that lacks the key in use fails clearly, changing nothing.
    third = "third:" + base64.b64encode(b"\x33" * 32).decode()
    bad = run(db_url, "keys", "rotate", keys=third, check=False)
    assert bad.returncode != 0 and "new" in bad.stderr


def test_production_refuses_to_start_without_keys(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REGENTRA_ENCRYPTION_KEYS", "REGENTRA_SESSION_SECRET")
    }
    env.update(REGENTRA_ENV="production", REGENTRA_DATABASE_URL=f"sqlite:///{tmp_path / 'p.db'}")
    result = subprocess.run(
        [sys.executable, "-m", "regentra", "serve", "--port", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "REGENTRA_ENCRYPTION_KEYS" in result.stderr
    assert "Traceback" not in result.stderr


def test_development_generates_keys_once(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REGENTRA_ENCRYPTION_KEYS", "REGENTRA_SESSION_SECRET")
    }
    env.update(REGENTRA_VAR_DIR=str(tmp_path / "var"), REGENTRA_ENV="development")
    env["REGENTRA_DATABASE_URL"] = f"sqlite:///{tmp_path / 'd.db'}"
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-m", "regentra", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
    keys = tmp_path / "var" / "encryption_keys"
    assert keys.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "var" / "session_secret").stat().st_mode & 0o777 == 0o600
    Keyring.from_spec(keys.read_text())
