"""Tests of the JSON API (/api/v1) and of the personal tokens that open it."""

from __future__ import annotations

from datetime import date

from portal.blueprints.auth.api_tokens import create_token
from portal.extensions import db
from portal.models import User
from portal.public_list.importer import import_list
from tests.fixtures.make_public_list_sample import SAMPLE_PATH

#: The date of the sample list once imported.
SAMPLE_AS_OF = date(2025, 5, 2)


def import_sample(as_of: date = SAMPLE_AS_OF) -> None:
    """Import tests/fixtures/public_list_sample.csv as the list of `as_of`."""
    import_list(str(SAMPLE_PATH), as_of=as_of, triggered_by="test")


def new_token(user: User, name: str = "Test") -> str:
    """A live token of `user`, committed; returns its plaintext."""
    _token, plaintext = create_token(user, name)
    db.session.commit()
    return plaintext


def bearer(plaintext: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {plaintext}"}


def funder_token(funder, scopes=None, label: str = "SI du financeur", admin: User | None = None):
    """A live token of `funder` (created by one of its admins), committed; its plaintext."""
    from portal.api.tokens import create_funder_token
    from portal.clock import today
    from portal.models import ApiScope, Role
    from tests.factories import UserFactory

    admin = admin or UserFactory(role=Role.FUNDER_ADMIN.value, funder=funder)
    chosen = [s.value for s in ApiScope] if scopes is None else [str(s) for s in scopes]
    _token, plaintext = create_funder_token(
        admin, label, chosen, today().replace(year=today().year + 1)
    )
    db.session.commit()
    return plaintext
