"""The password policy, table-driven."""

from __future__ import annotations

import pytest

from portal.passwords import hash_password, password_problems, verify_password


@pytest.mark.parametrize(
    ("password", "email", "expected"),
    [
        ("court", None, ["au moins 12 caractères"]),
        ("onze-caract", None, ["au moins 12 caractères"]),
        ("douze-caract", None, []),
        ("MotDePasse123", None, ["trop courant"]),
        ("azertyuiop123", None, ["trop courant"]),
        ("aaaaaaaaaaaaaaaa", None, ["trop courant"]),
        ("claire.dupont@exemple.test", "claire.dupont@exemple.test", ["adresse électronique"]),
        ("claire.dupont", "claire.dupont@exemple.test", ["adresse électronique"]),
        ("x" * 201, None, ["ne peut dépasser 200", "trop courant"]),
        ("une phrase de passe solide", None, []),
    ],
)
def test_password_policy(password: str, email: str | None, expected: list[str]) -> None:
    problems = password_problems(password, email=email)
    assert len(problems) == len(expected)
    for problem, fragment in zip(problems, expected, strict=True):
        assert fragment in problem


def test_hashes_are_argon2id_and_verify(app) -> None:
    hashed = hash_password("une phrase de passe solide")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "une phrase de passe solide")
    assert not verify_password(hashed, "une autre phrase de passe")
    assert not verify_password(None, "une phrase de passe solide")
    assert not verify_password("pas-un-hash", "x")
