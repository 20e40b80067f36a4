"""The automatic checks, table-driven, with the figures of the rules of the field ("Service fait").

Each case changes a dossier that passes every check (14 h of training in March 2026,
1 400 € agreed, an invoice, a certificat de réalisation and an attendance sheet that all
agree, an OF certified for training actions since 2025) and lists the findings expected:
code, severity, and the figures the explanation must name.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from portal.dossiers.rules import parse_duration
from portal.einvoice import reader as einvoice_reader
from portal.einvoice import samples
from portal.models import Severity
from portal.service_fait import checks
from portal.service_fait.checks import (
    DossierFacts,
    DuplicateFacts,
    ListSpan,
    OtherPiece,
    PieceFacts,
    QualiopiFacts,
    SubcontractFacts,
)

D = Decimal


def H(hours: str) -> int:
    """Hours as DOMAIN.md writes them (« 7.5 », « 7h20 »), as the minutes the checks compare."""
    return parse_duration(hours)


NDA = "76311234567"
FORMATION = frozenset({"actions_formation"})
SHA_CERTIFICATE = "ab" * 32


def plain(text: str) -> str:
    """The explanation with ordinary spaces (the checks write no-break spaces)."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def certified_since_2025(*categories: str) -> QualiopiFacts:
    return QualiopiFacts(
        NDA, date(2025, 1, 1), (ListSpan(date(2025, 1, 1), None, frozenset(categories)),)
    )


INVOICE = PieceFacts(
    id=1,
    kind="facture",
    period_start=date(2026, 3, 1),
    period_end=date(2026, 3, 31),
    sha256="01" * 32,
    invoice_number="F-2026-031",
    invoice_date=date(2026, 4, 2),
    amount_excl_tax=D("1400.00"),
    amount_incl_tax=D("1400.00"),
    minutes_billed=H("14"),
)
CERTIFICATE = PieceFacts(
    id=2,
    kind="certificat_realisation",
    period_start=date(2026, 3, 1),
    period_end=date(2026, 3, 31),
    sha256=SHA_CERTIFICATE,
    minutes_completed=H("14"),
    nature="actions_formation",
)
SHEET = PieceFacts(
    id=3,
    kind="feuille_emargement",
    period_start=date(2026, 3, 1),
    period_end=date(2026, 3, 31),
    sha256="03" * 32,
    half_days_planned=4,
    half_days_signed=4,
    minutes_attended=H("14"),
)

BASE = DossierFacts(
    id=10,
    reference="TP-2026-00042",
    category="actions_formation",
    scheme="plan",
    start_date=date(2026, 3, 1),
    end_date=date(2026, 3, 31),
    planned_minutes=H("14"),
    agreed_amount=D("1400.00"),
    payment_rhythm="fin_de_formation",
    provider_nda=NDA,
    pieces=(INVOICE, CERTIFICATE, SHEET),
    qualiopi=certified_since_2025("actions_formation"),
)

PTP = replace(
    BASE,
    scheme="ptp",
    payment_rhythm="mensuel",
    rncp_code="RNCP37674",
    start_date=date(2026, 1, 1),
    end_date=date(2026, 6, 30),
    planned_minutes=H("600"),
    agreed_amount=D("12000"),
    pieces=(),
)


def piece(base: PieceFacts, **changes: Any) -> PieceFacts:
    return replace(base, **changes)


def with_pieces(*pieces: PieceFacts, facts: DossierFacts = BASE, **changes: Any) -> DossierFacts:
    return replace(facts, pieces=pieces, **changes)


# What the files say of themselves, read by portal.einvoice from the project's samples.
MATCHING = samples.InvoiceSpec(
    number="F-2026-031",
    issue_date=date(2026, 4, 2),
    lines=(samples.Line("Formation", D("14"), "HUR", D("100.00")),),
)
SIRENS = {"provider_siren": "812345676", "provider_siret": "81234567600017"}


def einvoice(spec: samples.InvoiceSpec = MATCHING, *, xml: bytes | None = None, **changes):
    data = xml if xml is not None else samples.cii_xml(spec)
    record = einvoice_reader.read_document(data, "application/xml", "facture").stored()
    return piece(INVOICE, figures_source="einvoice", file_figures=record, **changes)


def text_invoice(**changes: Any) -> PieceFacts:
    data = samples.invoice_pdf(MATCHING)
    record = einvoice_reader.read_document(data, "application/pdf", "facture").stored()
    return piece(INVOICE, figures_source="pdf_text", file_figures=record, **changes)


def form_certificate(hours: str, **changes: Any) -> PieceFacts:
    data = samples.certificate_pdf(samples.CertificateSpec(hours=hours))
    record = einvoice_reader.read_document(data, "application/pdf", "certificat_realisation")
    return piece(CERTIFICATE, figures_source="pdf_form", file_figures=record.stored(), **changes)


def month_certificate(id_: int, start: date, end: date, hours: str = "140") -> PieceFacts:
    return piece(
        CERTIFICATE,
        id=id_,
        period_start=start,
        period_end=end,
        minutes_completed=H(hours),
        sha256=None,
    )


OTHER_INVOICE = OtherPiece(
    dossier_id=11,
    reference="TP-2026-00043",
    piece_id=21,
    kind="facture",
    period_start=date(2026, 2, 1),
    period_end=date(2026, 2, 28),
    invoice_number="f-2026-031 ",
)
OTHER_SHEET = OtherPiece(
    dossier_id=11,
    reference="TP-2026-00043",
    piece_id=22,
    kind="feuille_emargement",
    period_start=date(2026, 3, 1),
    period_end=date(2026, 3, 31),
    sha256=SHA_CERTIFICATE,
)

B, W, INFO = Severity.BLOCKING, Severity.WARNING, Severity.INFO

# (case, facts, [(code, severity, [figures named in the explanation])]): exactly these.
CASES: list[tuple[str, DossierFacts, list[tuple[str, Severity, list[str]]]]] = [
    (
        "14 h on the convention and the invoice, 13 h 30 on the certificat",
        with_pieces(INVOICE, piece(CERTIFICATE, minutes_completed=H("13.5")), SHEET),
        [
            (
                "HOURS_BILLED_OVER_COMPLETED",
                B,
                [
                    "14 h facturées (la facture n° F-2026-031 du 01/03/2026 au 31/03/2026)",
                    "13 h 30 au certificat de réalisation du 01/03/2026 au 31/03/2026",
                    "0 h 30 facturées sans être réalisées",
                ],
            ),
            (
                "HOURS_COMPLETED_UNDER_PLANNED",
                W,
                [
                    "14 h prévues à la convention, 13 h 30 au certificat de réalisation du "
                    "01/03/2026 au 31/03/2026",
                    "0 h 30 non réalisées",
                ],
            ),
            (
                "HOURS_ATTENDED_MISMATCH",
                W,
                [
                    "13 h 30 au certificat de réalisation du 01/03/2026 au 31/03/2026",
                    "14 h à la feuille d'émargement du 01/03/2026 au 31/03/2026",
                    "écart de 0 h 30",
                ],
            ),
        ],
    ),
    (
        "an invoice above the agreed amount",
        with_pieces(
            piece(INVOICE, amount_incl_tax=D("1500"), amount_excl_tax=D("1500")), CERTIFICATE, SHEET
        ),
        [
            (
                "AMOUNT_OVER_AGREED",
                B,
                ["1 400,00 € accordés", "1 500,00 € TTC facturés", "100,00 € de plus"],
            )
        ],
    ),
    (
        "two invoices whose sum is above the agreed amount: the second is named",
        with_pieces(
            piece(
                INVOICE,
                period_end=date(2026, 3, 15),
                amount_incl_tax=D("800"),
                invoice_date=date(2026, 3, 16),
                minutes_billed=H("7"),
            ),
            piece(
                INVOICE,
                id=4,
                invoice_number="F-2026-032",
                period_start=date(2026, 3, 16),
                amount_incl_tax=D("700.50"),
                minutes_billed=H("7"),
            ),
            CERTIFICATE,
            SHEET,
        ),
        [
            (
                "AMOUNT_OVER_AGREED",
                B,
                [
                    "1 500,50 € TTC facturés au total (2 factures)",
                    "100,50 € de plus",
                    "avec la facture n° F-2026-032 du 16/03/2026 au 31/03/2026",
                ],
            )
        ],
    ),
    (
        "an invoice whose period starts before the convention's",
        with_pieces(piece(INVOICE, period_start=date(2026, 2, 15)), CERTIFICATE, SHEET),
        [
            (
                "INVOICE_OUTSIDE_DOSSIER",
                B,
                [
                    "La facture n° F-2026-031 porte sur la période du 15/02/2026 au 31/03/2026, "
                    "hors de la période de la convention (du 01/03/2026 au 31/03/2026)"
                ],
            ),
            (
                "INVOICE_WITHOUT_CERTIFICATE",
                B,
                [
                    "aucun certificat de réalisation ne couvre la période du 15/02/2026 au "
                    "28/02/2026"
                ],
            ),
        ],
    ),
    (
        "an invoice dated before the end of the period it bills",
        with_pieces(piece(INVOICE, invoice_date=date(2026, 3, 20)), CERTIFICATE, SHEET),
        [
            (
                "INVOICE_BEFORE_PERIOD_END",
                W,
                [
                    "La facture n° F-2026-031 est datée du 20/03/2026, 11 jours avant la fin de "
                    "la période qu'elle facture (du 01/03/2026 au 31/03/2026)"
                ],
            )
        ],
    ),
    (
        "a missing half-day signature",
        with_pieces(INVOICE, CERTIFICATE, piece(SHEET, half_days_signed=3)),
        [
            (
                "HALF_DAYS_MISSING",
                B,
                [
                    "3 demi-journées signées sur 4 prévues",
                    "la feuille d'émargement du 01/03/2026 au 31/03/2026",
                    "1 demi-journée sans signature",
                ],
            )
        ],
    ),
    (
        "fewer hours on the attendance sheets than on the certificat",
        with_pieces(INVOICE, CERTIFICATE, piece(SHEET, minutes_attended=H("12"))),
        [
            (
                "HOURS_ATTENDED_MISMATCH",
                W,
                ["14 h au certificat", "12 h à la feuille d'émargement", "écart de 2 h"],
            )
        ],
    ),
    (
        "more hours completed than planned",
        with_pieces(
            INVOICE,
            piece(CERTIFICATE, minutes_completed=H("16.25")),
            piece(SHEET, minutes_attended=H("16.25")),
        ),
        [
            (
                "HOURS_COMPLETED_OVER_PLANNED",
                W,
                ["14 h prévues à la convention", "16 h 15 au certificat", "2 h 15 de plus"],
            )
        ],
    ),
    (
        "an invoice with no certificat de réalisation",
        with_pieces(INVOICE, SHEET),
        [
            (
                "INVOICE_WITHOUT_CERTIFICATE",
                B,
                [
                    "porte sur la période du 01/03/2026 au 31/03/2026 : aucun certificat de "
                    "réalisation pour cette période"
                ],
            )
        ],
    ),
    (
        "a certificat for another category of action",
        with_pieces(INVOICE, piece(CERTIFICATE, nature="bilans_competences"), SHEET),
        [
            (
                "NATURE_MISMATCH",
                B,
                ["« Bilan de compétences » au certificat", "« Action de formation » au dossier"],
            )
        ],
    ),
    (
        "an OF certified for VAE only, financed for a training action",
        replace(BASE, qualiopi=certified_since_2025("vae")),
        [
            (
                "QUALIOPI_START",
                B,
                [
                    "Le 01/03/2026, début de l'action",
                    f"NDA {NDA}",
                    "pour « Action de formation »",
                    "certifiées ce jour-là : « Validation des acquis de l'expérience (VAE) »",
                ],
            ),
            (
                "QUALIOPI_PERIOD",
                B,
                ["porte sur la période du 01/03/2026 au 31/03/2026", "sur toute la période"],
            ),
        ],
    ),
    (
        "an OF absent from the public list",
        replace(BASE, qualiopi=QualiopiFacts(NDA, date(2025, 1, 1), ())),
        [
            ("QUALIOPI_START", B, ["ne figure pas dans la liste publique", "01/03/2026"]),
            ("QUALIOPI_PERIOD", B, ["sur toute la période (absent de la liste)"]),
        ],
    ),
    (
        "an OF that lost the category in the middle of the invoiced period",
        replace(
            BASE,
            qualiopi=QualiopiFacts(
                NDA,
                date(2025, 1, 1),
                (
                    ListSpan(date(2025, 1, 1), date(2026, 3, 16), FORMATION),
                    ListSpan(date(2026, 3, 16), None, frozenset()),
                ),
            ),
        ),
        # Certified on the start date: the loss during the action is an alert (the issue
        # 14 rule; it used to block the payment).
        [
            (
                "QUALIOPI_PERIOD",
                W,
                [
                    "du 16/03/2026 au 31/03/2026 (présent dans la liste sans cette catégorie)",
                    "certifié le 01/03/2026, au début de l'action",
                    "sans bloquer le paiement (choix du financeur)",
                ],
            )
        ],
    ),
    (
        "a certification lost during the action, for a funder who blocks payment then",
        replace(
            BASE,
            qualiopi_loss_blocking=True,
            qualiopi=QualiopiFacts(
                NDA,
                date(2025, 1, 1),
                (
                    ListSpan(date(2025, 1, 1), date(2026, 3, 31), FORMATION),
                    ListSpan(date(2026, 3, 31), None, frozenset()),
                ),
            ),
        ),
        # The last day of the action is the first without the category.
        [("QUALIOPI_PERIOD", B, ["le 31/03/2026", "le financeur bloque alors le paiement"])],
    ),
    (
        "three certificats of 7 h 20 prove an invoice of 22 h (no false « 0 h 01 »)",
        replace(
            with_pieces(
                piece(INVOICE, minutes_billed=H("22")),
                piece(CERTIFICATE, period_end=date(2026, 3, 10), minutes_completed=H("7h20")),
                piece(
                    CERTIFICATE,
                    id=5,
                    period_start=date(2026, 3, 11),
                    period_end=date(2026, 3, 20),
                    minutes_completed=H("7 h 20"),
                ),
                piece(
                    CERTIFICATE,
                    id=6,
                    period_start=date(2026, 3, 21),
                    minutes_completed=H("7:20"),
                ),
                piece(SHEET, minutes_attended=H("22")),
            ),
            planned_minutes=H("22"),
        ),
        # The sheet covers the month, the certificats its thirds: the sheet is not compared.
        [],
    ),
    (
        "two invoices billing the same 14 hours twice against one certificat of 14 h",
        with_pieces(
            piece(INVOICE, amount_incl_tax=D("700")),
            piece(
                INVOICE,
                id=4,
                invoice_number="F-2026-031-BIS",
                invoice_date=date(2026, 4, 9),
                amount_incl_tax=D("700"),
            ),
            CERTIFICATE,
            SHEET,
        ),
        [
            (
                "HOURS_BILLED_OVER_COMPLETED",
                B,
                [
                    "28 h facturées (2 factures",
                    "14 h au certificat de réalisation du 01/03/2026 au 31/03/2026",
                    "14 h facturées sans être réalisées",
                    "La facture n° F-2026-031 et la facture n° F-2026-031-BIS facturent des "
                    "périodes qui se recouvrent : les mêmes heures sont facturées deux fois",
                ],
            )
        ],
    ),
    (
        "hours billed month by month: one month over its certificat is named alone",
        replace(
            BASE,
            end_date=date(2026, 4, 30),
            planned_minutes=H("28"),
            agreed_amount=D("2800"),
            pieces=(
                INVOICE,
                CERTIFICATE,
                SHEET,
                piece(
                    INVOICE,
                    id=7,
                    invoice_number="F-2026-041",
                    period_start=date(2026, 4, 1),
                    period_end=date(2026, 4, 30),
                    invoice_date=date(2026, 5, 2),
                ),
                piece(
                    CERTIFICATE,
                    id=8,
                    period_start=date(2026, 4, 1),
                    period_end=date(2026, 4, 30),
                    minutes_completed=H("13h30"),
                ),
            ),
        ),
        [
            (
                "HOURS_BILLED_OVER_COMPLETED",
                B,
                [
                    "14 h facturées (la facture n° F-2026-041 du 01/04/2026 au 30/04/2026)",
                    "13 h 30 au certificat de réalisation du 01/04/2026 au 30/04/2026",
                    "0 h 30 facturées sans être réalisées",
                ],
            ),
            ("HOURS_COMPLETED_UNDER_PLANNED", W, ["28 h prévues", "27 h 30", "0 h 30 non"]),
        ],
    ),
    (
        "a PTP without an RNCP or RS code",
        replace(
            PTP,
            rncp_code=None,
            end_date=date(2026, 1, 31),
            planned_minutes=H("140"),
            pieces=(month_certificate(31, date(2026, 1, 1), date(2026, 1, 31)),),
        ),
        [("PTP_WITHOUT_CERTIFICATION_CODE", W, ["sans code RNCP ni RS"])],
    ),
    (
        "a non-certified subcontractor outside the CPF: a point of attention, not blocking",
        replace(
            BASE,
            subcontracted=True,
            subcontract=SubcontractFacts(
                compliant=False,
                reasons=("Certification Qualiopi du sous-traitant : non certifié",),
                subcontractor="Formations du Sud",
                cpf=False,
            ),
        ),
        [
            (
                "SUBCONTRACTOR_ATTENTION",
                W,
                [
                    "sous-traité hors CPF : Certification Qualiopi du sous-traitant : non certifié",
                    "(indicateur 27)",
                    "ne bloque pas le paiement",
                ],
            )
        ],
    ),
    (
        "dates before the first list the portal imported",
        replace(
            BASE,
            qualiopi=QualiopiFacts(
                NDA, date(2026, 3, 10), (ListSpan(date(2026, 3, 10), None, FORMATION),)
            ),
        ),
        [
            (
                "QUALIOPI_UNKNOWN",
                INFO,
                [
                    "depuis la liste du 10/03/2026",
                    "le 01/03/2026 (début de l'action)",
                    "du 01/03/2026 au 09/03/2026 (la facture n° F-2026-031",
                ],
            )
        ],
    ),
    (
        "no public list imported yet",
        replace(BASE, qualiopi=QualiopiFacts(NDA, None, ())),
        [("QUALIOPI_UNKNOWN", INFO, ["Aucune liste publique n'a encore été importée"])],
    ),
    (
        "PTP monthly certificats with a gap in March",
        with_pieces(
            month_certificate(31, date(2026, 1, 1), date(2026, 1, 31)),
            month_certificate(32, date(2026, 2, 1), date(2026, 2, 28)),
            month_certificate(34, date(2026, 4, 1), date(2026, 4, 30)),
            facts=PTP,
        ),
        [
            (
                "PTP_CERTIFICATE_GAP",
                W,
                [
                    "Aucun certificat de réalisation du 01/03/2026 au 31/03/2026 (mars 2026)",
                    "le certificat de réalisation du 01/04/2026 au 30/04/2026 a été envoyé",
                ],
            )
        ],
    ),
    (
        "a PTP certificat covering two months",
        with_pieces(
            month_certificate(31, date(2026, 1, 1), date(2026, 2, 28), hours="280"), facts=PTP
        ),
        [
            (
                "PTP_CERTIFICATE_NOT_MONTHLY",
                W,
                ["du 01/01/2026 au 28/02/2026 couvre 2 mois (janvier 2026 et février 2026)"],
            )
        ],
    ),
    (
        "the same invoice number twice for one OF (another dossier, another writing)",
        replace(BASE, duplicates=DuplicateFacts(invoices=(OTHER_INVOICE,))),
        [
            (
                "DUPLICATE_INVOICE_NUMBER",
                B,
                [
                    "Le numéro F-2026-031 de la facture du 01/03/2026 au 31/03/2026",
                    "la facture du 01/02/2026 au 28/02/2026 du dossier TP-2026-00043",
                ],
            )
        ],
    ),
    (
        "the same file sent for two dossiers",
        replace(BASE, duplicates=DuplicateFacts(files=(OTHER_SHEET,))),
        [
            (
                "DUPLICATE_FILE",
                W,
                [
                    "Le fichier du certificat de réalisation du 01/03/2026 au 31/03/2026",
                    f"SHA-256 {SHA_CERTIFICATE[:12]}",
                    "la feuille d'émargement du 01/03/2026 au 31/03/2026 du dossier TP-2026-00043",
                ],
            )
        ],
    ),
    (
        "a subcontracted dossier whose subcontractor is not compliant",
        replace(
            BASE,
            subcontracted=True,
            subcontract=SubcontractFacts(
                compliant=False,
                reasons=(
                    "absent de la liste publique au 01/03/2026.",
                    "le contrat écrit n'a pas été déposé",
                ),
                subcontractor="Formations du Sud",
            ),
        ),
        [
            (
                "SUBCONTRACTOR_NOT_COMPLIANT",
                B,
                [
                    "le sous-traitant « Formations du Sud » n'est pas conforme",
                    "absent de la liste publique au 01/03/2026 ; le contrat écrit n'a pas été "
                    "déposé.",
                ],
            )
        ],
    ),
    (
        "a number and an amount typed that are not the electronic invoice's",
        with_pieces(
            einvoice(invoice_number="F-2026-032", amount_excl_tax=D("1300.00")),
            CERTIFICATE,
            SHEET,
            **SIRENS,
        ),
        [
            (
                "EINVOICE_FIGURES_DIFFER",
                B,
                [
                    "La facture n° F-2026-032 du 01/03/2026 au 31/03/2026 :",
                    "numéro saisi « F-2026-032 », la facture électronique indique « F-2026-031 »",
                    "montant HT saisi 1 300,00 €, la facture électronique indique 1 400,00 €",
                ],
            )
        ],
    ),
    (
        "hours typed that are not the electronic invoice's",
        with_pieces(einvoice(minutes_billed=H("12")), CERTIFICATE, SHEET, **SIRENS),
        [
            (
                "EINVOICE_DETAILS_DIFFER",
                W,
                ["heures facturées saisies 12 h, la facture électronique indique 14 h"],
            )
        ],
    ),
    (
        "an electronic invoice issued by another company",
        with_pieces(
            einvoice(replace(MATCHING, seller_siren="552100554", seller_siret="55210055400013")),
            CERTIFICATE,
            SHEET,
            **SIRENS,
        ),
        [
            (
                "EINVOICE_SELLER_NOT_PROVIDER",
                B,
                ["émise par « Formapro Occitanie », SIREN 552100554", "SIREN 812345676"],
            )
        ],
    ),
    (
        "an electronic invoice issued by another establishment of the OF",
        with_pieces(
            einvoice(replace(MATCHING, seller_siret="81234567600025")),
            CERTIFICATE,
            SHEET,
            **SIRENS,
        ),
        [
            (
                "EINVOICE_SELLER_OTHER_ESTABLISHMENT",
                INFO,
                ["SIRET 81234567600025", "l'établissement 81234567600017 (même SIREN 812345676)"],
            )
        ],
    ),
    (
        "an electronic invoice whose period goes outside the agreement",
        with_pieces(
            einvoice(replace(MATCHING, period_start=date(2026, 2, 15))),
            CERTIFICATE,
            SHEET,
            **SIRENS,
        ),
        [
            (
                "EINVOICE_PERIOD_OUTSIDE_DOSSIER",
                B,
                ["15/02/2026", "hors de la période de la convention (du 01/03/2026 au 31/03/2026)"],
            ),
            (
                "EINVOICE_DETAILS_DIFFER",
                W,
                ["début de période saisi 01/03/2026, la facture électronique indique 15/02/2026"],
            ),
        ],
    ),
    (
        "an electronic invoice billing more hours than planned",
        with_pieces(
            einvoice(replace(MATCHING, lines=(samples.Line("F", D("20"), "HUR", D("70")),))),
            CERTIFICATE,
            SHEET,
            **SIRENS,
        ),
        [
            (
                "EINVOICE_HOURS_OVER_PLANNED",
                W,
                ["20 h dans sa facture électronique", "14 h prévues"],
            ),
            ("EINVOICE_DETAILS_DIFFER", W, ["heures facturées saisies 14 h", "indique 20 h"]),
        ],
    ),
    (
        "an electronic invoice whose totals do not add up",
        with_pieces(
            einvoice(replace(MATCHING, gross_override=D("1680.00"))), CERTIFICATE, SHEET, **SIRENS
        ),
        [
            (
                "EINVOICE_TOTALS_INCONSISTENT",
                B,
                [
                    "total HT 1 400,00 € + TVA 0,00 € = 1 400,00 €, la facture indique "
                    "1 680,00 € TTC"
                ],
            ),
            (
                "EINVOICE_FIGURES_DIFFER",
                B,
                ["montant TTC saisi 1 400,00 €, la facture électronique indique 1 680,00 €"],
            ),
        ],
    ),
    (
        "an electronic invoice not valid against its schema",
        with_pieces(
            einvoice(
                xml=samples.cii_xml(MATCHING).replace(b"<ram:TypeCode>380</ram:TypeCode>", b"")
            ),
            CERTIFICATE,
            SHEET,
            **SIRENS,
        ),
        [("EINVOICE_SCHEMA_INVALID", W, ["n'est pas valide", "TypeCode"])],
    ),
    (
        "hours typed that are not those of the certificat's form",
        with_pieces(INVOICE, form_certificate("12"), SHEET),
        [
            (
                "CERTIFICATE_FORM_DIFFERS",
                W,
                ["durée réalisée saisie 14 h, le formulaire du PDF indique 12 h"],
            )
        ],
    ),
    (
        "hours typed that are not those found in the PDF's text",
        with_pieces(text_invoice(minutes_billed=H("13")), CERTIFICATE, SHEET),
        [("PDF_TEXT_DIFFERS", W, ["heures facturées saisies 13 h, le texte du PDF indique 14 h"])],
    ),
]

# Dossiers that must produce nothing.
CLEAN: list[tuple[str, DossierFacts]] = [
    (
        "an electronic invoice that agrees with what was typed, from the OF's establishment",
        with_pieces(einvoice(), CERTIFICATE, SHEET, **SIRENS),
    ),
    (
        "a fillable certificat that agrees with what was typed",
        with_pieces(INVOICE, form_certificate("14"), SHEET),
    ),
    ("invoice, certificat and attendance sheet that agree", BASE),
    ("a dossier without any piece yet", with_pieces()),
    (
        "a renewal of the list that adds a category (touching versions)",
        replace(
            BASE,
            qualiopi=QualiopiFacts(
                NDA,
                date(2025, 1, 1),
                (
                    ListSpan(date(2025, 1, 1), date(2026, 3, 15), FORMATION),
                    ListSpan(date(2026, 3, 15), None, FORMATION | {"vae"}),
                ),
            ),
        ),
    ),
    (
        "another invoice number of the OF, and this dossier's own pieces as 'others'",
        replace(
            BASE,
            duplicates=DuplicateFacts(
                invoices=(
                    replace(OTHER_INVOICE, invoice_number="F-2026-032"),
                    replace(OTHER_INVOICE, dossier_id=BASE.id, piece_id=INVOICE.id),
                ),
                files=(replace(OTHER_SHEET, dossier_id=BASE.id),),
            ),
        ),
    ),
    (
        "a PTP under way: fewer hours so far than planned, one certificat per month",
        with_pieces(
            month_certificate(31, date(2026, 1, 1), date(2026, 1, 31)),
            month_certificate(32, date(2026, 2, 1), date(2026, 2, 28)),
            facts=PTP,
        ),
    ),
    (
        "blended learning: the sheets prove only the on-site hours",
        with_pieces(INVOICE, CERTIFICATE, piece(SHEET, minutes_attended=H("10")), modality="mixte"),
    ),
    (
        "distance learning: no attendance figures to compare",
        with_pieces(
            INVOICE, CERTIFICATE, piece(SHEET, minutes_attended=H("2")), modality="distance"
        ),
    ),
    (
        "apprenticeship: the certificat counts months, the invoice no hours",
        with_pieces(
            piece(INVOICE, minutes_billed=None),
            piece(
                CERTIFICATE, nature="apprentissage", minutes_completed=None, months_completed=D("1")
            ),
            category="apprentissage",
            qualiopi=certified_since_2025("apprentissage"),
        ),
    ),
    (
        "a compliant subcontracting",
        replace(BASE, subcontracted=True, subcontract=SubcontractFacts(compliant=True)),
    ),
    (
        "an invoice dated on the last day of its period",
        with_pieces(piece(INVOICE, invoice_date=date(2026, 3, 31)), CERTIFICATE, SHEET),
    ),
]


@pytest.mark.parametrize(("name", "facts", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_anomaly_is_found_with_its_figures(name, facts, expected):
    findings = checks.run_all(facts)
    assert sorted(f.code for f in findings) == sorted(code for code, _, _ in expected), [
        plain(f.explanation) for f in findings
    ]
    by_code = {f.code: f for f in findings}
    for code, severity, figures in expected:
        finding = by_code[code]
        assert finding.severity == severity, code
        assert finding.label == checks.CHECKS[code].label
        for figure in figures:
            assert figure in plain(finding.explanation), (code, figure, plain(finding.explanation))


@pytest.mark.parametrize(("name", "facts"), CLEAN, ids=[c[0] for c in CLEAN])
def test_consistent_dossiers_produce_nothing(name, facts):
    assert [plain(f.explanation) for f in checks.run_all(facts)] == []


def test_a_finding_points_at_its_piece_and_period():
    facts = with_pieces(INVOICE, CERTIFICATE, piece(SHEET, half_days_signed=3))
    (finding,) = checks.run_all(facts)
    assert (finding.piece_id, finding.period_start, finding.period_end) == (
        SHEET.id,
        date(2026, 3, 1),
        date(2026, 3, 31),
    )
    gap = checks.run_all(
        with_pieces(
            month_certificate(31, date(2026, 1, 1), date(2026, 1, 31)),
            month_certificate(34, date(2026, 4, 1), date(2026, 4, 30)),
            facts=PTP,
        )
    )
    assert [(f.code, f.piece_id, f.period_start, f.period_end) for f in gap] == [
        ("PTP_CERTIFICATE_GAP", None, date(2026, 2, 1), date(2026, 3, 31))
    ]
    assert "(février 2026 et mars 2026)" in plain(gap[0].explanation)


def test_the_same_invoice_number_twice_in_one_dossier_is_flagged_on_both():
    second = piece(INVOICE, id=4, invoice_number="f-2026-031 ", amount_incl_tax=D("0"))
    findings = checks.run_all(with_pieces(INVOICE, second, CERTIFICATE, SHEET))
    duplicates = [f for f in findings if f.code == "DUPLICATE_INVOICE_NUMBER"]
    assert [f.piece_id for f in duplicates] == [INVOICE.id, second.id]
    assert "aussi sur la facture n° f-2026-031 " in plain(duplicates[0].explanation)


def test_the_order_of_findings_is_the_registry_s_whatever_the_order_of_pieces():
    facts = with_pieces(
        piece(INVOICE, amount_incl_tax=D("1500"), invoice_date=date(2026, 3, 20)),
        piece(CERTIFICATE, nature="vae"),
        piece(SHEET, half_days_signed=2),
        qualiopi=QualiopiFacts(NDA, date(2025, 1, 1), ()),
    )
    codes = [f.code for f in checks.run_all(facts)]
    assert codes == [code for code in checks.CHECKS if code in codes]
    shuffled = replace(facts, pieces=tuple(reversed(facts.pieces)))
    assert checks.run_all(shuffled) == checks.run_all(facts)


def test_every_check_has_a_code_a_french_label_and_a_severity():
    required = {
        "QUALIOPI_START",
        "QUALIOPI_PERIOD",
        "AMOUNT_OVER_AGREED",
        "INVOICE_OUTSIDE_DOSSIER",
        "INVOICE_BEFORE_PERIOD_END",
        "HOURS_BILLED_OVER_COMPLETED",
        "HOURS_COMPLETED_OVER_PLANNED",
        "HOURS_ATTENDED_MISMATCH",
        "HALF_DAYS_MISSING",
        "NATURE_MISMATCH",
        "PTP_CERTIFICATE_GAP",
        "DUPLICATE_INVOICE_NUMBER",
        "DUPLICATE_FILE",
        "SUBCONTRACTOR_NOT_COMPLIANT",
    }
    assert required <= set(checks.CHECKS)
    for code, item in checks.CHECKS.items():
        assert item.code == code and code.isupper() and len(code) <= 40
        assert isinstance(item.severity, Severity)
        assert item.label and len(item.label) <= 200 and item.label[0].isupper()
        # Every severity is written in the module's docstring, next to its code.
        assert f"``{code}``" in (checks.__doc__ or ""), code
    covered = {finding[0] for _, _, expected in CASES for finding in expected}
    assert covered == set(checks.CHECKS), set(checks.CHECKS) - covered


@pytest.mark.parametrize(
    ("hours", "text"),
    [
        ("14", "14 h"),
        ("13.5", "13 h 30"),
        ("0.25", "0 h 15"),
        ("7h20", "7 h 20"),
        ("1085", "1 085 h"),
    ],
)
def test_hours_are_written_the_french_way(hours, text):
    assert plain(checks.fr_hours(H(hours))) == text


@pytest.mark.parametrize(
    ("spans", "start", "end", "expected"),
    [
        # Certified the whole time.
        ([(date(2025, 1, 1), None, FORMATION)], date(2026, 3, 1), date(2026, 3, 31), []),
        # Left the list on 10/03, came back on 20/03.
        (
            [
                (date(2025, 1, 1), date(2026, 3, 10), FORMATION),
                (date(2026, 3, 20), None, FORMATION),
            ],
            date(2026, 3, 1),
            date(2026, 3, 31),
            [(date(2026, 3, 10), date(2026, 3, 19), False)],
        ),
        # Listed without the category, then without any entry.
        (
            [(date(2025, 1, 1), date(2026, 3, 25), frozenset({"vae"}))],
            date(2026, 3, 1),
            date(2026, 3, 31),
            [
                (date(2026, 3, 1), date(2026, 3, 24), True),
                (date(2026, 3, 25), date(2026, 3, 31), False),
            ],
        ),
        # Before the history: not known, not reported here.
        ([(date(2026, 3, 10), None, FORMATION)], date(2026, 3, 1), date(2026, 3, 31), []),
    ],
)
def test_days_not_certified_are_read_from_the_history(spans, start, end, expected):
    history = QualiopiFacts(
        NDA, min(s[0] for s in spans), tuple(ListSpan(a, b, c) for a, b, c in spans)
    )
    assert history.not_certified("actions_formation", start, end) == expected
    assert history.certified("actions_formation", date(2024, 12, 31)) is None
