"""`demo seed` and `users create`."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.cli import DEMO_ACCOUNTS, DEMO_PASSWORD
from portal.extensions import db
from portal.models import Funder, Provider, User
from tests.factories import FunderFactory, ProviderFactory
from tests.support.auth import AuthActions


def _counts() -> tuple[int, int, int]:
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (Funder, Provider, User)
    )


def test_demo_seed_creates_the_demo_and_is_idempotent(app, runner, client) -> None:
    first = runner.invoke(args=["demo", "seed"])
    assert first.exit_code == 0, first.output
    assert "Démo créée" in first.output
    assert "liste publique de démonstration" in first.output
    counts = _counts()
    assert counts == (1, 3, len(DEMO_ACCOUNTS))
    second = runner.invoke(args=["demo", "seed"])
    assert second.exit_code == 0 and "rien à créer" in second.output
    assert _counts() == counts
    funder = db.session.scalar(select(Funder))
    assert funder.name == "Transitions Pro Occitanie (démo)"
    for email, _, _ in DEMO_ACCOUNTS:
        assert AuthActions(app.test_client()).login(email, DEMO_PASSWORD).status_code == 303


def test_demo_password_can_be_set(app, runner, monkeypatch) -> None:
    monkeypatch.setenv("DEMO_PASSWORD", "un-autre-mot-de-passe-demo")
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    client = app.test_client()
    assert AuthActions(client).login("controleur@demo.test", DEMO_PASSWORD).status_code == 200
    assert (
        AuthActions(client).login("controleur@demo.test", "un-autre-mot-de-passe-demo").status_code
        == 303
    )


def test_demo_seed_refuses_production(app, runner) -> None:
    from flask import current_app

    current_app.config["PORTAL_ENV"] = "production"  # the app the command runs in
    result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code == 1
    assert "jamais créées en production" in result.output
    assert _counts() == (0, 0, 0)


def test_users_create_reads_the_password_from_stdin(app, runner) -> None:
    funder = FunderFactory(name="OPCO EP")
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "Chef@Opco.test",
            "--name",
            "Chef OPCO",
            "--role",
            "funder_admin",
            "--funder",
            "OPCO EP",
        ],
        input="un-mot-de-passe-tres-long\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "chef@opco.test"))
    assert user.funder_id == funder.id
    assert (
        AuthActions(app.test_client())
        .login("chef@opco.test", "un-mot-de-passe-tres-long")
        .status_code
        == 303
    )


def test_users_create_refuses_bad_input_in_french(app, runner) -> None:
    weak = runner.invoke(
        args=["users", "create", "--email", "a@b.test", "--name", "A", "--role", "admin"],
        input="court\n",
    )
    assert weak.exit_code == 1 and "au moins 12 caractères" in weak.output
    no_funder = runner.invoke(
        args=["users", "create", "--email", "a@b.test", "--name", "A", "--role", "controller"],
        input="un-mot-de-passe-tres-long\n",
    )
    assert no_funder.exit_code == 1 and "indiquez --funder" in no_funder.output
    provider = ProviderFactory()
    ok = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "of@b.test",
            "--name",
            "OF",
            "--role",
            "provider",
            "--provider",
            provider.nda,
        ],
        input="un-mot-de-passe-tres-long\n",
    )
    assert ok.exit_code == 0
    again = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "of@b.test",
            "--name",
            "OF",
            "--role",
            "provider",
            "--provider",
            provider.nda,
        ],
        input="un-mot-de-passe-tres-long\n",
    )
    assert again.exit_code == 1 and "existe déjà" in again.output
