"""Demo data (`flask demo seed`): the demo OF's Qualiopi certificate, recorded
as the OF would, and one quality control of the demo funder whose report is issued, with a
minor non-conformity still within its deadline and a major one past it. Idempotent: nothing
is added once the demo OF has a certificate, or the demo funder a quality control."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from portal import clock
from portal.certification import services as certification
from portal.certification.rules import months_after
from portal.extensions import db
from portal.models import Certificate, Certifier, Dossier, QualityControl, User
from portal.quality import controls
from portal.quality.rules import Finding

DEMO_OF_EMAIL = "organisme@demo.test"
DEMO_CONTROLLER_EMAIL = "controleur@demo.test"

MINOR_OBSERVATION = (
    "Les indicateurs de résultats publiés sur le site datent de 2024 : taux de satisfaction "
    "sans le nombre de répondants."
)
MAJOR_OBSERVATION = (
    "Aucune adaptation des contenus n'est tracée pour les stagiaires en difficulté repérés au "
    "positionnement ; aucun entretien intermédiaire dans les trois dossiers échantillonnés."
)


def seed_demo_certificate(demo_file) -> list[str]:
    """The demo OF's certificate: AFNOR Certification, actions de formation, started 20
    months ago (its surveillance window is open). The caller commits."""
    of_user = db.session.scalar(select(User).where(User.email == DEMO_OF_EMAIL))
    if of_user is None or of_user.provider_id is None:
        return []
    if db.session.scalar(
        select(Certificate.id).where(Certificate.provider_id == of_user.provider_id).limit(1)
    ):
        return []
    certifier = db.session.scalar(select(Certifier).where(Certifier.name == "AFNOR Certification"))
    start = months_after(clock.today(), -20)
    saved = certification.save_certificate(
        of_user,
        {
            "certifier": str(certifier.id) if certifier else "autre",
            "certifier_other": "" if certifier else "AFNOR Certification",
            "number": "QUALIOPI-DEMO-0001",
            "categories": ["actions_formation"],
            "start_date": start.isoformat(),
        },
        demo_file("certificat-qualiopi.pdf", "Certificat Qualiopi"),
    )
    certification.add_audit(
        of_user,
        saved.certificate,
        {"kind": "initial", "audit_date": (start - timedelta(days=21)).isoformat()},
    )
    certification.commit_with_files(saved.stored_keys)
    return ["certificat Qualiopi de démonstration"]


def seed_demo_quality_control() -> list[str]:
    """A control of the demo OF four months ago, report issued: indicator 2 a minor NC
    (deadline in two months), indicator 10 a major one (deadline passed a month ago), the
    others conforming. The caller commits."""
    controller = db.session.scalar(select(User).where(User.email == DEMO_CONTROLLER_EMAIL))
    of_user = db.session.scalar(select(User).where(User.email == DEMO_OF_EMAIL))
    if controller is None or of_user is None or of_user.provider_id is None:
        return []
    if db.session.scalar(
        select(QualityControl.id).where(QualityControl.funder_id == controller.funder_id).limit(1)
    ):
        return []
    dossier_ids = set(
        db.session.scalars(
            select(Dossier.id)
            .where(
                Dossier.funder_id == controller.funder_id,
                Dossier.provider_id == of_user.provider_id,
            )
            .order_by(Dossier.reference)
            .limit(2)
        )
    )
    control = controls.create_control(
        controller,
        controls.PlanData(
            provider_id=of_user.provider_id,
            mode="sur_site",
            control_date=months_after(clock.today(), -4),
            scope_actions="Sessions « Anglais professionnel » du semestre",
            participants="Claire Contrôle (financeur) ; la responsable pédagogique de l'OF",
            dossier_ids=dossier_ids,
        ),
    )
    db.session.flush()
    for row in control.findings:
        finding, observations = Finding.CONFORMING.value, ""
        if row.code == "2":
            finding, observations = Finding.MINOR.value, MINOR_OBSERVATION
        elif row.code == "10":
            finding, observations = Finding.MAJOR.value, MAJOR_OBSERVATION
        controls.record_finding(
            controller, control, row, finding=finding, observations=observations
        )
    db.session.flush()
    controls.issue_report(controller, control, control.version)
    db.session.commit()
    return ["contrôle qualité de démonstration"]
