"""Password hashing: production parameters (the test process hashes cheaply, see conftest)."""

from __future__ import annotations

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
