"""Command-line tools: `flask --app wsgi demo seed`, `users create`, `audit verify`."""

from __future__ import annotations

import os
import sys
from datetime import date
from importlib import resources

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from portal import audit
from portal.blueprints.auth.services import normalize_email
from portal.extensions import db
from portal.models import Funder, FunderKind, FunderProvider, ListImport, Provider, Role, User
from portal.passwords import hash_password, password_problems
from portal.public_list.alerts import raise_alerts
from portal.public_list.importer import import_list
from portal.regions import REGIONS

demo_cli = AppGroup("demo", help="Données de démonstration.")
users_cli = AppGroup("users", help="Comptes utilisateurs.")
audit_cli = AppGroup("audit", help="Journal d'audit.")

DEMO_LIST = resources.files("portal.data").joinpath("liste_publique_demo.csv")
DEMO_PASSWORD = "demo-portail-2026"  # noqa: S105 (documented demo password)
DEMO_FUNDER = "Transitions Pro Occitanie (démo)"
DEMO_PROVIDERS = (
    # NDA, SIRET (Luhn-valid), name
    ("76311234567", "81234567600017", "Formapro Occitanie (démo)"),
    ("76340987654", "79876543400013", "Atelier des Compétences du Sud (démo)"),
    ("76310555123", "50213467900013", "Bilans & Parcours Toulouse (démo)"),
)
DEMO_ACCOUNTS = (
    # email, name, role
    ("admin@demo.test", "Alice Admin", Role.ADMIN),
    ("admin-financeur@demo.test", "Fabien Financeur", Role.FUNDER_ADMIN),
    ("controleur@demo.test", "Claire Contrôle", Role.CONTROLLER),
    ("organisme@demo.test", "Olivier Organisme", Role.PROVIDER),
    ("ministere@demo.test", "Marie Ministère", Role.MINISTRY),
)


@demo_cli.command("seed")
def demo_seed() -> None:
    """Crée le financeur, les organismes et les comptes de démonstration (idempotent)."""
    if current_app.config["PORTAL_ENV"] == "production":
        click.echo(
            "Refusé : les données de démonstration ne sont jamais créées en production "
            "(PORTAL_ENV=production).",
            err=True,
        )
        sys.exit(1)
    password = os.environ.get("DEMO_PASSWORD") or DEMO_PASSWORD
    problems = password_problems(password)
    if problems:
        click.echo("DEMO_PASSWORD refusé : " + " ".join(problems), err=True)
        sys.exit(1)
    created = seed_demo(password)
    db.session.commit()
    if seed_demo_list():
        created.append("liste publique de démonstration")
    if created:
        click.echo(f"Démo créée : {', '.join(created)}.")
    else:
        click.echo("Démo déjà en place : rien à créer.")
    click.echo("Comptes : " + ", ".join(email for email, _, _ in DEMO_ACCOUNTS))


def seed_demo(password: str) -> list[str]:
    """Get or create every demo object; return what was created."""
    created: list[str] = []
    funder = db.session.scalar(select(Funder).where(Funder.name == DEMO_FUNDER))
    if funder is None:
        funder = Funder(name=DEMO_FUNDER, kind=FunderKind.TRANSITIONS_PRO, region_code="76")
        db.session.add(funder)
        audit.record("funder.created", actor_label="cli demo seed", target=funder)
        created.append("financeur")
    providers = []
    for nda, siret, name in DEMO_PROVIDERS:
        provider = db.session.scalar(select(Provider).where(Provider.nda == nda))
        if provider is None:
            provider = Provider(nda=nda, siret=siret, siren=siret[:9], name=name)
            db.session.add(provider)
            audit.record("provider.created", actor_label="cli demo seed", target=provider)
            created.append(f"organisme {nda}")
        providers.append(provider)
        db.session.flush()
        followed = db.session.scalar(
            select(FunderProvider).where(
                FunderProvider.funder_id == funder.id, FunderProvider.provider_id == provider.id
            )
        )
        if followed is None:
            db.session.add(FunderProvider(funder_id=funder.id, provider_id=provider.id))
    for email, name, role in DEMO_ACCOUNTS:
        if db.session.scalar(select(User.id).where(User.email == email)) is not None:
            continue
        user = User(
            email=email,
            full_name=name,
            role=role.value,
            funder_id=funder.id if role in (Role.FUNDER_ADMIN, Role.CONTROLLER) else None,
            provider_id=providers[0].id if role == Role.PROVIDER else None,
            region_code="76" if role == Role.MINISTRY else None,
            password_hash=hash_password(password),
        )
        db.session.add(user)
        audit.record("user.created", actor_label="cli demo seed", target=user)
        created.append(email)
    return created


def seed_demo_list() -> bool:
    """Import the bundled demo public list (fictional OF, the demo ones among them) as
    today's list, when no list was ever imported; return whether it was."""
    if db.session.scalar(select(ListImport.id).limit(1)) is not None:
        return False
    import_list(
        str(DEMO_LIST), as_of=date.today(), triggered_by="cli demo seed", on_imported=raise_alerts
    )
    return True


@users_cli.command("create")
@click.option("--email", required=True, help="Adresse électronique (identifiant de connexion).")
@click.option("--name", "full_name", required=True, help="Nom et prénom.")
@click.option(
    "--role", type=click.Choice([role.value for role in Role]), required=True, help="Rôle."
)
@click.option("--funder", help="Nom ou identifiant du financeur (administrateur, contrôleur).")
@click.option("--provider", "provider_nda", help="NDA de l'organisme (rôle provider).")
@click.option("--region", help="Code INSEE de la région d'un correspondant ministériel.")
def users_create(
    email: str,
    full_name: str,
    role: str,
    funder: str | None,
    provider_nda: str | None,
    region: str | None,
) -> None:
    """Crée un compte ; le mot de passe est lu sur l'entrée standard."""
    email = normalize_email(email)
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        _fail(f"Un compte existe déjà avec l'adresse {email}.")
    funder_row = provider_row = None
    if role in (Role.FUNDER_ADMIN, Role.CONTROLLER):
        if not funder:
            _fail("Ce rôle appartient à un financeur : indiquez --funder.")
        funder_row = db.session.scalar(
            select(Funder).where(
                (Funder.name == funder) | (Funder.id == (int(funder) if funder.isdigit() else -1))
            )
        )
        if funder_row is None:
            _fail(f"Financeur introuvable : {funder}.")
    if role == Role.PROVIDER:
        provider_row = db.session.scalar(select(Provider).where(Provider.nda == provider_nda))
        if provider_row is None:
            _fail(f"Organisme introuvable (NDA) : {provider_nda}. Indiquez --provider.")
    if region and (role != Role.MINISTRY or region not in REGIONS):
        _fail("--region ne vaut que pour un correspondant ministériel, avec un code INSEE valide.")
    password = _read_password()
    problems = password_problems(password, email=email)
    if problems:
        _fail("Mot de passe refusé : " + " ".join(problems))
    user = User(
        email=email,
        full_name=full_name.strip(),
        role=role,
        funder_id=funder_row.id if funder_row else None,
        provider_id=provider_row.id if provider_row else None,
        region_code=region if role == Role.MINISTRY else None,
        password_hash=hash_password(password),
    )
    db.session.add(user)
    audit.record(
        "user.created",
        actor_label="cli users create",
        target=user,
        funder_id=user.funder_id,
        details={"email": email, "role": role},
    )
    db.session.commit()
    click.echo(f"Compte créé : {email} ({role}).")


def _read_password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Mot de passe", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


@audit_cli.command("verify")
def audit_verify() -> None:
    """Recalcule la chaîne d'empreintes du journal et nomme le premier événement altéré."""
    report = audit.verify_chain()
    if report.ok:
        click.echo(f"Journal d'audit intègre : {report.checked} événement(s) vérifié(s).")
        return
    where = (
        f"à l'événement n° {report.broken_event_id}"
        if report.broken_event_id is not None
        else "en fin de journal"
    )
    click.echo(
        f"Journal d'audit altéré {where} : {report.reason} "
        f"({report.checked} événement(s) intègre(s) avant).",
        err=True,
    )
    sys.exit(1)


def init_app(app: Flask) -> None:
    app.cli.add_command(demo_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(audit_cli)
