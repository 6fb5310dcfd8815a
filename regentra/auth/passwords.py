"""Password hashing with argon2 (pwdlib)."""

from __future__ import annotations

from functools import lru_cache

from pwdlib import PasswordHash

from regentra.errors import Invalid

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256


@lru_cache(maxsize=1)
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash("regentra-dummy-password-for-timing")


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise Invalid(f"password must be at most {MAX_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    check_password_policy(password)
    return _hasher().hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """Constant work whether or not the account exists."""
    if password_hash is None:
        _hasher().verify(password, _dummy_hash())
        return False
    try:
        return bool(_hasher().verify(password, password_hash))
    except Exception:  # a malformed stored hash is a failed login, not a crash
        return False
