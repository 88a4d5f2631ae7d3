"""The product's password hashes keep their cost. The test session hashes cheaply (tests/conftest.py,
cheap_password_hashes); these tests hold the product's own hash_password to werkzeug's scrypt at full cost."""

from __future__ import annotations

from werkzeug.security import check_password_hash

import tracker.users


def test_the_product_hashes_with_scrypt_at_full_cost(cheap_password_hashes):
    stored = cheap_password_hashes("correct horse battery")
    method, _, _ = stored.split("$", 2)
    name, n, r, p = method.split(":")
    assert name == "scrypt" and int(n) >= 32768 and int(r) >= 8 and int(p) >= 1, method
    assert check_password_hash(stored, "correct horse battery")
    assert not check_password_hash(stored, "correct horse batterY")


def test_only_the_test_session_hashes_cheaply(cheap_password_hashes):
    assert tracker.users.hash_password is not cheap_password_hashes
    assert tracker.users.hash_password("x").startswith("scrypt:1024:")


def test_a_test_that_needs_the_real_cost_gets_it(strong_password_hashes):
    assert tracker.users.hash_password("x").startswith("scrypt:32768:")
    assert tracker.users._DUMMY_HASH.startswith("scrypt:32768:")
