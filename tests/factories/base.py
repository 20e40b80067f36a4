"""What every factory shares: the database session it commits to, and the password of the
users it makes."""

from __future__ import annotations

from factory.alchemy import SQLAlchemyModelFactory

from portal.extensions import db

PASSWORD = "un-mot-de-passe-solide-42"


def luhn_complete(prefix: str) -> str:
    """`prefix` followed by the digit that makes its Luhn key valid (SIREN, SIRET)."""
    for digit in "0123456789":
        candidate = prefix + digit
        total = 0
        for index, char in enumerate(reversed(candidate)):
            value = int(char) * (2 if index % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


class Base(SQLAlchemyModelFactory):
    """Objects committed through Flask-SQLAlchemy's session of the current application."""

    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"
