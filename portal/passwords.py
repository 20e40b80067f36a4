"""Password policy (pure rules) and Argon2id hashing.

A new password must be long enough, not one of the common passwords the portal ships, not
the e-mail address, and hard enough to guess for zxcvbn, a strength estimator that knows
the frequency lists of breached and common passwords, names, keyboard walks and dates.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

MIN_LENGTH = 12
MAX_LENGTH = 200
#: zxcvbn's score (0 to 4) a password must reach: 3 means about 10^8 guesses or more.
MIN_STRENGTH = 3
#: zxcvbn looks at this many characters at most (its time grows with the length).
STRENGTH_PREFIX = 100
TOO_COMMON = "Ce mot de passe est trop courant : choisissez-en un autre."
TOO_EASY = (
    "Ce mot de passe est trop facile à deviner : il ressemble à un mot de passe courant ou "
    "suit un motif connu (mot usuel suivi de chiffres, suite du clavier, date). Choisissez "
    "plutôt une phrase de plusieurs mots sans lien entre eux."
)


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("portal.data").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().casefold() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def password_problems(password: str, *, email: str | None = None) -> list[str]:
    """What is wrong with a new password, in French; empty when it is acceptable."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Le mot de passe doit comporter au moins {MIN_LENGTH} caractères.")
    if len(password) > MAX_LENGTH:
        problems.append(f"Le mot de passe ne peut dépasser {MAX_LENGTH} caractères.")
    folded = password.casefold()
    if folded in common_passwords() or len(set(folded)) <= 2:
        problems.append(TOO_COMMON)
    if email and folded in {email.casefold(), email.split("@")[0].casefold()}:
        problems.append("Le mot de passe ne doit pas reprendre votre adresse électronique.")
    if not problems and strength(password, email=email) < MIN_STRENGTH:
        problems.append(TOO_EASY)  # the estimate is only worth giving when nothing else is
    return problems


def strength(password: str, *, email: str | None = None) -> int:
    """zxcvbn's score of the password, 0 (guessed at once) to 4, knowing the e-mail."""
    from zxcvbn import zxcvbn  # its dictionaries (~13 MB) loaded only when a password is set

    hints = [email, email.split("@")[0]] if email else []
    return int(zxcvbn(password[:STRENGTH_PREFIX], user_inputs=hints)["score"])


def _hasher() -> PasswordHasher:
    config = current_app.config
    return PasswordHasher(
        time_cost=config["ARGON2_TIME_COST"],
        memory_cost=config["ARGON2_MEMORY_COST"],
        parallelism=config["ARGON2_PARALLELISM"],
        type=Type.ID,
    )


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        # Spend the same time as a real check so that timing does not reveal accounts.
        _hasher().hash(password)
        return False
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)
