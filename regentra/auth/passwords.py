"""Password hashing with argon2 (pwdlib), and the policy for new passwords: at least 12
characters and not weak by the zxcvbn strength estimator (existing hashes keep verifying)."""

from __future__ import annotations

from functools import lru_cache

from pwdlib import PasswordHash
from zxcvbn import zxcvbn

from regentra.errors import Invalid

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
# zxcvbn's scores run 0-4; 3 is "safely unguessable" against an online attack and costly
# offline. It reads at most 72 characters, and its run time grows with length.
MIN_STRENGTH_SCORE = 3
_STRENGTH_PREFIX = 72  # zxcvbn refuses longer input


@lru_cache(maxsize=1)
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash("regentra-dummy-password-for-timing")


def check_password_policy(password: str, *, context: tuple[str, ...] = ()) -> None:
    """For a new password; `context`: words about the account (email, name) that make a
    password easy to guess."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise Invalid(f"password must be at most {MAX_PASSWORD_LENGTH} characters")
    words = [w for c in context for w in (c, *c.replace("@", " ").replace(".", " ").split()) if w]
    result = zxcvbn(password[:_STRENGTH_PREFIX], user_inputs=words)
    if result["score"] < MIN_STRENGTH_SCORE:
        feedback = result.get("feedback") or {}
        hints = [feedback.get("warning") or "", *(feedback.get("suggestions") or [])]
        advice = " ".join(h.strip() for h in hints if h and h.strip())
        raise Invalid(
            "password is too easy to guess"
            + (f": {advice}" if advice else "; use a longer phrase of uncommon words"),
            code="weak_password",
        )


def hash_password(password: str, *, context: tuple[str, ...] = ()) -> str:
    """The hash of a NEW password, after the policy check (sign-in only verifies)."""
    check_password_policy(password, context=context)
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
