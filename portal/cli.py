"""Command-line tools: `flask --app wsgi demo seed`, `users create`, `audit verify`,
`audit anchor`."""

from __future__ import annotations

import io
import os
import sys
from datetime import date, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path

import click
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from portal import audit, backup, clock, formatting, retention
from portal.blueprints.auth.services import normalize_email
from portal.dossiers import pieces as pieces_service
from portal.einvoice.demo import write_demo_documents
from portal.extensions import db
from portal.models import (
    CONTRACT_MENTIONS,
    Category,
    Dossier,
    DossierStatus,
    Funder,
    FunderKind,
    FunderProvider,
    ListImport,
    Modality,
    PaymentRhythm,
    PieceKind,
    Provider,
    QualiopiAlert,
    Role,
    Scheme,
    Subcontract,
    User,
)
from portal.passwords import hash_password, password_problems
from portal.public_list.alerts import raise_alerts
from portal.public_list.demo import weekly_lists
from portal.public_list.importer import import_list
from portal.quality.demo import seed_demo_certificate, seed_demo_quality_control
from portal.regions import REGIONS
from portal.service_fait.document_requests import ensure_default_templates
from portal.service_fait.runner import run_all_checks
from portal.signalements.demo import seed_demo_certifiers
from portal.storage import storage_for
from portal.subcontracting import services as subcontracting
from portal.webhooks.cli import worker_command

demo_cli = AppGroup("demo", help="Données de démonstration.")
users_cli = AppGroup("users", help="Comptes utilisateurs.")
audit_cli = AppGroup("audit", help="Journal d'audit.")
backup_cli = AppGroup("backup", help="Sauvegarde et restauration de la base et des fichiers.")
retention_cli = AppGroup("retention", help="Durées de conservation des données personnelles.")

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
    created.extend(seed_demo_dossiers())
    created.extend(seed_demo_alerts())
    db.session.commit()
    created.extend(seed_demo_subcontracting())
    db.session.commit()

    created.extend(seed_demo_certifiers())
    db.session.commit()
    created.extend(seed_demo_quality())

    run_all_checks()  # every demo dossier gets its control and its automatic checks
    documents = seed_demo_documents()
    if created:
        click.echo(f"Démo créée : {', '.join(created)}.")
    else:
        click.echo("Démo déjà en place : rien à créer.")
    click.echo("Comptes : " + ", ".join(email for email, _, _ in DEMO_ACCOUNTS))
    if documents:
        click.echo(
            "Documents à déposer par l'organisme de démonstration (dossier DEMO-PTP-0001, "
            "mois dernier) : " + ", ".join(str(path) for path in documents)
        )


def seed_demo_documents() -> list[Path]:
    """A Factur-X invoice and a fillable certificat for the demo OF's last month, written
    into the instance folder (`instance/demo/`), for the prefill of the upload form."""
    provider = db.session.scalar(select(Provider).where(Provider.nda == DEMO_PROVIDERS[0][0]))
    if provider is None:
        return []
    return write_demo_documents(
        Path(current_app.instance_path) / "demo",
        seller_name=provider.name.removesuffix(" (démo)"),
        siren=provider.siren,
        siret=provider.siret,
        buyer_name=DEMO_FUNDER,
        today=clock.today(),
    )


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
    """Import the demo public list (fictional OF, the demo ones among them) as it was each
    week over three months, then today's (portal.public_list.demo), when no list was ever
    imported; return whether it was. The lists are written into the instance folder
    (`instance/demo/listes/`)."""
    if db.session.scalar(select(ListImport.id).limit(1)) is not None:
        return False
    folder = Path(current_app.instance_path) / "demo" / "listes"
    folder.mkdir(parents=True, exist_ok=True)
    text = DEMO_LIST.read_text(encoding="utf-8")
    for as_of, weekly in weekly_lists(text, clock.today()):
        path = folder / f"liste-publique-{as_of:%d-%m-%Y}.csv"
        path.write_text(weekly, encoding="utf-8", newline="")
        import_list(str(path), as_of=as_of, triggered_by="cli demo seed", on_imported=raise_alerts)
    return True


def seed_demo_alerts() -> list[str]:
    """The Qualiopi alerts of the past demo lists, raised once the demo dossiers exist (the
    lists were imported before them); only when no alert was ever raised. The caller
    commits."""
    if db.session.scalar(select(QualiopiAlert.id).limit(1)) is not None:
        return []
    runs = db.session.scalars(select(ListImport).order_by(ListImport.as_of, ListImport.id))
    alerts = [alert for run in runs for alert in raise_alerts(run)]
    return [f"{len(alerts)} alerte(s) Qualiopi"] if alerts else []


# --- Demo dossiers and pieces ---------------------------------------------------------------

DEMO_OF_EMAIL = "organisme@demo.test"


def demo_pdf(title: str) -> bytes:
    """A small valid one-page PDF showing `title` (ASCII), for the demo pieces."""
    text = title.encode("ascii", "replace").replace(b"(", b"[").replace(b")", b"]")
    content = b"BT /F1 14 Tf 72 760 Td (" + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _month_start(day: date, months: int) -> date:
    """The first day of the month `months` months after (or before) `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _month_end(day: date, months: int) -> date:
    return _month_start(day, months + 1) - timedelta(days=1)


def _demo_file(name: str, title: str):
    from werkzeug.datastructures import FileStorage

    return FileStorage(io.BytesIO(demo_pdf(title)), filename=name)


#: The demo funder's dossiers with the two other demo OF: (last name, first name, action,
#: OF, category, scheme, started months ago, planned hours, agreed amount).
DEMO_PORTFOLIO = (
    (
        "Bernard",
        "Léa",
        "Titre professionnel Secrétaire assistant",
        "atelier",
        Category.ACTIONS_FORMATION,
        Scheme.PTP.value,
        2,
        "560",
        "9800.00",
    ),
    (
        "Thomas",
        "Hugo",
        "VAE — Diplôme d'État d'éducateur spécialisé",
        "atelier",
        Category.VAE,
        Scheme.CPF.value,
        2,
        "24",
        "2100.00",
    ),
    (
        "Robert",
        "Chloé",
        "Bilan de compétences (24 heures)",
        "bilans",
        Category.BILANS_COMPETENCES,
        Scheme.CPF.value,
        1,
        "24",
        "1800.00",
    ),
    (
        "Richard",
        "Louis",
        "CAP Accompagnant éducatif petite enfance",
        "atelier",
        Category.ACTIONS_FORMATION,
        Scheme.PTP.value,
        3,
        "630",
        "10400.00",
    ),
    (
        "Dubois",
        "Emma",
        "Bilan de compétences (18 heures)",
        "bilans",
        Category.BILANS_COMPETENCES,
        Scheme.CPF.value,
        0,
        "18",
        "1500.00",
    ),
    (
        "Laurent",
        "Jules",
        "Titre professionnel Gestionnaire de paie",
        "atelier",
        Category.ACTIONS_FORMATION,
        Scheme.PTP.value,
        1,
        "720",
        "11200.00",
    ),
    (
        "Simon",
        "Manon",
        "Bilan de compétences (24 heures)",
        "bilans",
        Category.BILANS_COMPETENCES,
        Scheme.PLAN.value,
        2,
        "24",
        "1900.00",
    ),
    (
        "Michel",
        "Arthur",
        "Titre professionnel Agent de restauration",
        "atelier",
        Category.ACTIONS_FORMATION,
        Scheme.PTP.value,
        4,
        "490",
        "7600.00",
    ),
    (
        "Lefebvre",
        "Zoé",
        "Certificat de qualification Soudeur",
        "atelier",
        Category.ACTIONS_FORMATION,
        Scheme.PLAN.value,
        1,
        "140",
        "3900.00",
    ),
    (
        "Leroy",
        "Gabriel",
        "Bilan de compétences (20 heures)",
        "bilans",
        Category.BILANS_COMPETENCES,
        Scheme.CPF.value,
        1,
        "20",
        "1600.00",
    ),
    (
        "Roux",
        "Alice",
        "Titre professionnel Conseiller en insertion",
        "atelier",
        Category.ACTIONS_FORMATION,
        Scheme.PTP.value,
        2,
        "800",
        "12600.00",
    ),
    (
        "Fournier",
        "Raphaël",
        "Habilitation électrique H0B0",
        "atelier",
        Category.ACTIONS_FORMATION,
        Scheme.PLAN.value,
        0,
        "14",
        "450.00",
    ),
)


def seed_demo_dossiers() -> list[str]:
    """Demo dossiers of the demo funder for the demo OF, dated from today, with some of
    their pieces (sent through the pieces service, as the OF would); idempotent: an existing
    reference is left as it is. Returns what was created. The caller commits."""

    funder = db.session.scalar(select(Funder).where(Funder.name == DEMO_FUNDER))
    provider = db.session.scalar(select(Provider).where(Provider.nda == DEMO_PROVIDERS[0][0]))
    of_user = db.session.scalar(select(User).where(User.email == DEMO_OF_EMAIL))
    if funder is None or provider is None or of_user is None:
        return []
    today = clock.today()
    existing = set(
        db.session.scalars(select(Dossier.reference).where(Dossier.funder_id == funder.id))
    )
    created: list[str] = []

    def dossier(reference: str, of: Provider | None = None, **values) -> Dossier | None:
        if reference in existing:
            return None
        of = of or provider
        values.setdefault("category", Category.ACTIONS_FORMATION.value)
        values.setdefault("status", DossierStatus.OPEN.value)
        row = Dossier(
            funder_id=funder.id,
            reference=reference,
            provider_id=of.id,
            provider_siret=of.siret,
            **values,
        )
        db.session.add(row)
        audit.record(
            "dossier.created", actor_label="cli demo seed", target=row, funder_id=funder.id
        )
        created.append(f"dossier {reference}")
        return row

    def send(row: Dossier, kind: PieceKind, start: date, end: date, name: str, **fields) -> None:
        pieces_service.add_pieces(
            of_user,
            row,
            kind,
            {"period_start": start, "period_end": end, **fields},
            [_demo_file(name, f"{row.reference} - {name}")],
            today=today,
        )

    def month_pieces(row: Dossier, offset: int, *, certificate: bool = True) -> None:
        start, end = _month_start(today, offset), _month_end(today, offset)
        label = f"{start:%Y-%m}"
        send(
            row,
            PieceKind.INVOICE,
            start,
            end,
            f"facture-{label}.pdf",
            invoice_number=f"F{start:%Y%m}-{row.id:03d}",
            invoice_date=min(end, today),
            amount_excl_tax=Decimal("1500.00"),
            amount_incl_tax=Decimal("1500.00"),
            hours_billed=70,
        )
        if certificate:
            send(
                row,
                PieceKind.COMPLETION_CERTIFICATE,
                start,
                end,
                f"certificat-realisation-{label}.pdf",
                nature=Category.ACTIONS_FORMATION.value,
                hours_completed=70,
                signatory="Sophie Martin, directrice",
                signed_on=min(end, today),
            )
        send(
            row,
            PieceKind.ATTENDANCE_SHEET,
            start,
            end,
            f"emargement-{label}.pdf",
            half_days_planned=20,
            half_days_signed=20,
            hours_attended=70,
        )

    # A PTP paid monthly, begun four months ago: two months complete, then a certificate
    # missing, then nothing yet.
    ptp = dossier(
        "DEMO-PTP-0001",
        beneficiary_last_name="Durand",
        beneficiary_first_name="Camille",
        action_title="Titre professionnel Développeur web et web mobile",
        scheme=Scheme.PTP.value,
        rncp_code="RNCP37674",
        modality=Modality.ON_SITE.value,
        start_date=_month_start(today, -4),
        end_date=_month_end(today, 5),
        planned_minutes=700 * 60,
        agreed_amount=Decimal("15000.00"),
        payment_rhythm=PaymentRhythm.MONTHLY.value,
    )
    # A PTP in distance learning, begun three months ago, with nothing received.
    distance = dossier(
        "DEMO-PTP-0002",
        beneficiary_last_name="Petit",
        beneficiary_first_name="Nadia",
        action_title="Comptable assistant (formation à distance)",
        scheme=Scheme.PTP.value,
        modality=Modality.DISTANCE.value,
        start_date=_month_start(today, -3),
        end_date=_month_end(today, 3),
        planned_minutes=450 * 60,
        agreed_amount=Decimal("7800.00"),
        payment_rhythm=PaymentRhythm.MONTHLY.value,
    )
    # A CPF action paid on completion, under way.
    cpf = dossier(
        "DEMO-CPF-0003",
        beneficiary_last_name="Moreau",
        beneficiary_first_name="Lucas",
        action_title="Anglais professionnel (préparation TOEIC)",
        scheme=Scheme.CPF.value,
        modality=Modality.BLENDED.value,
        start_date=today - timedelta(days=40),
        end_date=today + timedelta(days=20),
        planned_minutes=40 * 60,
        agreed_amount=Decimal("1600.00"),
        payment_rhythm=PaymentRhythm.ON_COMPLETION.value,
    )
    # A CPF action finished and closed, all its pieces received.
    done = dossier(
        "DEMO-CPF-0004",
        beneficiary_last_name="Garcia",
        beneficiary_first_name="Inès",
        action_title="Habilitation électrique B1V-BR",
        scheme=Scheme.CPF.value,
        modality=Modality.ON_SITE.value,
        start_date=today - timedelta(days=130),
        end_date=today - timedelta(days=126),
        planned_minutes=35 * 60,
        agreed_amount=Decimal("950.00"),
        payment_rhythm=PaymentRhythm.ON_COMPLETION.value,
    )
    # The funder's other dossiers, with the two other demo OF, without pieces: a queue and
    # a list of dossiers of a few screens (the VAE one is at stake in a Qualiopi alert: its
    # OF lost the VAE on the list of three weeks ago).
    others = {
        p.nda: p
        for p in db.session.scalars(
            select(Provider).where(Provider.nda.in_([nda for nda, _, _ in DEMO_PROVIDERS[1:]]))
        )
    }
    atelier, bilans = others.get(DEMO_PROVIDERS[1][0]), others.get(DEMO_PROVIDERS[2][0])
    for number, (last, first, title, of, category, scheme, months, hours, amount) in enumerate(
        DEMO_PORTFOLIO, start=5
    ):
        chosen = {"atelier": atelier, "bilans": bilans}[of]
        if chosen is None:
            continue
        start = _month_start(today, -months)
        dossier(
            f"DEMO-{scheme.upper()}-{number:04d}",
            of=chosen,
            beneficiary_last_name=last,
            beneficiary_first_name=first,
            action_title=title,
            category=category.value,
            scheme=scheme,
            modality=Modality.ON_SITE.value,
            start_date=start,
            end_date=start + timedelta(days=30 * max(2, months + 2)),
            planned_minutes=int(hours) * 60,
            agreed_amount=Decimal(amount),
            payment_rhythm=PaymentRhythm.ON_COMPLETION.value,
        )
    db.session.flush()
    if ptp is not None:
        month_pieces(ptp, -4)
        month_pieces(ptp, -3)
        month_pieces(ptp, -2, certificate=False)
    if done is not None:
        start, end = done.start_date, done.end_date
        send(
            done,
            PieceKind.INVOICE,
            start,
            end,
            "facture-habilitation.pdf",
            invoice_number="F-HAB-0042",
            invoice_date=end,
            amount_excl_tax=Decimal("950.00"),
            amount_incl_tax=Decimal("950.00"),
            hours_billed=35,
        )
        send(
            done,
            PieceKind.COMPLETION_CERTIFICATE,
            start,
            end,
            "certificat-realisation-habilitation.pdf",
            nature=Category.ACTIONS_FORMATION.value,
            hours_completed=35,
            signatory="Sophie Martin, directrice",
            signed_on=end,
        )
        send(
            done,
            PieceKind.ATTENDANCE_SHEET,
            start,
            end,
            "emargement-habilitation.pdf",
            half_days_planned=10,
            half_days_signed=10,
            hours_attended=35,
        )
        # The CPF's invoice sent again, as an expense statement of the PTP: the controller
        # sees the file flagged on both dossiers.
        if ptp is not None:
            pieces_service.add_pieces(
                of_user,
                ptp,
                PieceKind.EXPENSE_STATEMENT,
                {
                    "period_start": _month_start(today, -4),
                    "period_end": _month_end(today, -4),
                    "amount": Decimal("120.00"),
                },
                [_demo_file("releve-depenses.pdf", f"{done.reference} - facture-habilitation.pdf")],
                today=today,
            )
        done.status = DossierStatus.CLOSED.value
    for row in (distance, cpf):
        if row is not None:
            pieces_service.recompute_first_missing_due(row)
    # The portal's message templates of the requests for documents.

    if ensure_default_templates():
        created.append("modèles de messages")
    return created


# --- Demo subcontracting --------------------------------------------------------------------

DEMO_SUBCONTRACTORS = (
    # NDA, SIRET of the demo public list
    ("76340987654", "79876543400013"),  # certified for training actions and VAE
    ("76320000011", "31234567100019"),  # not certified: a micro-entrepreneur, exempt
)


def seed_demo_subcontracting() -> list[str]:
    """Two subcontracting contracts of the demo OF, declared through the service as the OF
    would (one CPF contract whose checklist misses the sanction of the training, one with
    an exempt micro-entrepreneur), and its CPF turnover of the current year; idempotent:
    nothing is added once the demo OF has a contract. The caller commits."""

    of_user = db.session.scalar(select(User).where(User.email == DEMO_OF_EMAIL))
    if of_user is None or of_user.provider_id is None:
        return []
    if db.session.scalar(
        select(Subcontract.id).where(Subcontract.principal_id == of_user.provider_id).limit(1)
    ):
        return []
    today = clock.today()
    mentions = {name: name != "mentions_sanction" for name, _ in CONTRACT_MENTIONS}
    (nda, siret), (micro_nda, micro_siret) = DEMO_SUBCONTRACTORS
    saved = subcontracting.save_contract(
        of_user,
        {
            "subcontractor_nda": nda,
            "subcontractor_siret": siret,
            "actions": "Anglais professionnel (préparation TOEIC) : les modules d'oral",
            "categories": ["actions_formation"],
            "start_date": (today - timedelta(days=60)).isoformat(),
            "end_date": (today + timedelta(days=120)).isoformat(),
            "is_cpf": True,
            "price": "9000",
            **mentions,
        },
        {"contract_file": _demo_file("contrat-sous-traitance-toeic.pdf", "Contrat TOEIC")},
    )
    subcontracting.commit_with_files(saved.stored_keys)
    saved = subcontracting.save_contract(
        of_user,
        {
            "subcontractor_nda": micro_nda,
            "subcontractor_siret": micro_siret,
            "actions": "Habilitation électrique : travaux pratiques",
            "categories": ["actions_formation"],
            "start_date": (today - timedelta(days=30)).isoformat(),
            "end_date": (today + timedelta(days=30)).isoformat(),
            "price": "2400",
            "micro_entrepreneur": True,
            "micro_turnover": "42000",
            **dict.fromkeys(mentions, True),
        },
        {"contract_file": _demo_file("contrat-sous-traitance-habilitation.pdf", "Contrat")},
    )
    subcontracting.commit_with_files(saved.stored_keys)
    subcontracting.save_turnover(
        of_user, {"year": today.year, "amount": "12000", "as_of": today.isoformat()}
    )
    return ["contrats de sous-traitance de démonstration"]


def seed_demo_quality() -> list[str]:
    """The demo OF's certificate and a quality control with its report ; commits."""

    created = seed_demo_certificate(_demo_file)
    created.extend(seed_demo_quality_control())
    return created


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
@click.option(
    "--anchors",
    "anchors_file",
    type=click.File("r", encoding="utf-8"),
    default=None,
    help="Fichier des ancrages (une ligne par jour, écrite par `audit anchor`).",
)
def audit_verify(anchors_file: io.TextIOBase | None) -> None:
    """Recalcule la chaîne des sceaux du journal et nomme le premier événement altéré ;
    avec --anchors, vérifie aussi que le journal porte encore les têtes ancrées."""
    anchors: list[audit.Anchor] = []
    if anchors_file is not None:
        try:
            anchors = audit.read_anchors(anchors_file, _signing_key(create=False))
        except audit.AnchorRefused as refused:
            _fail(f"Ancrages refusés : {refused}")
    report = audit.verify_chain(anchors)
    if report.ok:
        checked = formatting.plural(report.checked, "événement vérifié", "événements vérifiés")
        if anchors:
            checked += ", " + formatting.plural(
                len(anchors), "ancrage retrouvé", "ancrages retrouvés"
            )
        click.echo(f"Journal d'audit intègre : {checked}.")
        return
    where = (
        f"à l'événement n° {report.broken_event_id}"
        if report.broken_event_id is not None
        else "en fin de journal"
    )
    click.echo(
        f"Journal d'audit altéré {where} : {report.reason} "
        f"({formatting.plural(report.checked, 'événement intègre', 'événements intègres')} avant).",
        err=True,
    )
    sys.exit(1)


@audit_cli.command("anchor")
def audit_anchor() -> None:
    """Affiche la tête du journal du jour, signée (Ed25519), et l'ajoute au fichier
    AUDIT_ANCHOR_FILE s'il est défini : à conserver hors du portail (courriel, autre
    système)."""
    anchor = audit.make_anchor(_signing_key(create=True), clock.today())
    if anchor is None:
        _fail("Le journal d'audit est vide : rien à ancrer.")
        return
    line = anchor.to_line()
    target = current_app.config.get("AUDIT_ANCHOR_FILE")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    click.echo(line)


def _signing_key(*, create: bool) -> Ed25519PrivateKey:
    """The Ed25519 key that signs the anchors, read from AUDIT_SIGNING_KEY_FILE; outside
    production it is generated there on first use (readable by its owner only)."""
    path = Path(current_app.config["AUDIT_SIGNING_KEY_FILE"])
    if not path.exists():
        if not create or current_app.config["PORTAL_ENV"] == "production":
            _fail(
                f"Clé de signature des ancrages introuvable ({path}) : définissez "
                "AUDIT_SIGNING_KEY_FILE (clé privée Ed25519 au format PEM)."
            )
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        return key
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        _fail(f"{path} n'est pas une clé privée Ed25519.")
    return key  # type: ignore[return-value]


@backup_cli.command("create")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
def backup_create(path: Path) -> None:
    """Sauvegarde la base et tous les fichiers déposés dans le dossier PATH (neuf ou vide),
    avec un manifeste des empreintes SHA-256."""
    existed = path.exists()
    try:
        report = backup.create(path, db.engine, storage_for(current_app))
    except backup.BackupRefused as refused:
        if not existed:
            backup.remove_partial(path)
        _fail(f"Sauvegarde refusée : {refused}")
        return
    rows = sum(report.tables.values())
    click.echo(
        f"Sauvegarde écrite dans {path} : {formatting.plural(rows, 'ligne', 'lignes')} dans "
        f"{formatting.plural(len(report.tables), 'table', 'tables')}, "
        f"{formatting.plural(report.files, 'fichier', 'fichiers')}."
    )
    if report.missing_files:
        missing = formatting.plural(len(report.missing_files), "fichier nommé", "fichiers nommés")
        click.echo(
            f"Attention : {missing} par la base manquent au stockage (voir sauvegarde.json).",
            err=True,
        )


@backup_cli.command("restore")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
def backup_restore(path: Path) -> None:
    """Restaure la sauvegarde PATH dans une base et un stockage vides, après avoir vérifié
    chaque empreinte du manifeste."""
    try:
        report = backup.restore(path, db.engine, storage_for(current_app))
    except backup.BackupRefused as refused:
        _fail(f"Restauration refusée : {refused}")
        return
    rows = formatting.plural(sum(report.tables.values()), "ligne", "lignes")
    files = formatting.plural(report.files, "fichier", "fichiers")
    click.echo(
        f"Sauvegarde restaurée : {rows}, {files}. "
        "Lancez `flask --app wsgi audit verify` pour contrôler le journal d'audit."
    )


@retention_cli.command("purge")
@click.option("--dry-run", is_flag=True, help="Liste ce qui serait effacé, sans rien effacer.")
@click.option(
    "--today",
    "today_text",
    default=None,
    help="Date du jour (AAAA-MM-JJ), pour vérifier un calendrier ; par défaut aujourd'hui.",
)
def retention_purge(dry_run: bool, today_text: str | None) -> None:
    """Efface, pour les dossiers clos dont la durée de conservation du financeur est échue
    (années après la fin de l'année du dernier paiement), les noms des bénéficiaires et les
    fichiers ; garde montants, décisions, constats et journal d'audit (qui ne nomme plus
    que le dossier)."""
    try:
        today = date.fromisoformat(today_text) if today_text else clock.today()
    except ValueError:
        _fail("Date invalide : écrivez-la AAAA-MM-JJ, par exemple 2027-01-15.")
    items = retention.due(today)
    if not items:
        click.echo("Aucun dossier dont la durée de conservation est échue.")
        return
    verb = "serait effacé" if dry_run else "effacé"
    for item in items:
        confirm = "" if item.funder.retention_confirmed else " (durée à confirmer)"
        click.echo(
            f"{item.dossier.reference} ({item.funder.name}) : dernier paiement le "
            f"{item.last_payment:%d/%m/%Y}, conservé jusqu'au {item.kept_until:%d/%m/%Y} "
            f"({item.funder.retention_years} ans{confirm}) ; {verb} : nom du bénéficiaire, "
            f"{len(item.documents)} fichier(s), {len(item.events)} événement(s) du journal "
            "anonymisé(s)."
        )
    if dry_run:
        click.echo(f"Simulation : {len(items)} dossier(s) seraient purgés ; rien n'a été effacé.")
        return
    outcome = retention.purge(items)
    db.session.commit()
    deleted = retention.delete_files(items)
    click.echo(
        f"{outcome.dossiers} dossier(s) purgé(s) : {deleted} fichier(s) effacé(s), "
        f"{outcome.events_redacted} événement(s) du journal anonymisé(s), "
        f"{outcome.events_resealed} événement(s) scellé(s) de nouveau. Prenez un nouvel "
        "ancrage du journal (flask audit anchor)."
    )


def init_app(app: Flask) -> None:
    app.cli.add_command(worker_command)
    app.cli.add_command(retention_cli)
    app.cli.add_command(backup_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(audit_cli)
