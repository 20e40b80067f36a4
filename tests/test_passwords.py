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
        # Long enough, but guessed at once by a strength estimator (zxcvbn).
        ("Password123!", None, ["trop facile à deviner"]),
        ("qwerty123456789", None, ["trop facile à deviner"]),
        ("123456789abc", None, ["trop facile à deviner"]),
        ("iloveyou123456", None, ["trop facile à deviner"]),
        ("cheval agrafe batterie correcte", None, []),
        ("Transitions-Occitanie-2026", None, []),
    ],
)
def test_password_policy(password: str, email: str | None, expected: list[str]) -> None:
    problems = password_problems(password, email=email)
    assert len(problems) == len(expected)
    for problem, fragment in zip(problems, expected, strict=True):
        assert fragment in problem


def test_the_e_mail_address_weakens_a_password_that_contains_it() -> None:
    assert password_problems("claire.dupont2026", email=None) == []
    (problem,) = password_problems("claire.dupont2026", email="claire.dupont@exemple.test")
    assert "trop facile à deviner" in problem


def test_hashes_are_argon2id_and_verify(app) -> None:
    hashed = hash_password("une phrase de passe solide")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "une phrase de passe solide")
    assert not verify_password(hashed, "une autre phrase de passe")
    assert not verify_password(None, "une phrase de passe solide")
    assert not verify_password("pas-un-hash", "x")
