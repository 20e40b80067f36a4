"""The one catalogue of coded reasons for a decision on an invoice.

A partly conforming or not conforming decision names one of these codes; the decision
forms, the exports and the statistics all read them from here. A code is stable (it is
stored with the decision and exported): change a label freely, never a code; add new
codes at the end.
"""

from __future__ import annotations

from collections.abc import Iterator

OTHER = "autre"

#: code → French label, in the order the forms offer them.
REASONS: dict[str, str] = {
    "heures_non_justifiees": "Heures facturées non justifiées",
    "emargement_incomplet": "Signatures d'émargement manquantes",
    "dates_hors_periode": "Dates hors de la période convenue",
    "montant_superieur_accord": "Montant supérieur à l'accord de financement",
    "of_non_certifie": "Organisme non certifié Qualiopi pour la catégorie de l'action",
    "nature_non_conforme": "Nature de l'action différente de la catégorie du dossier",
    "piece_manquante_apres_demande": "Pièce manquante après une demande de pièces",
    "facture_en_double": "Facture en double",
    OTHER: "Autre motif (à préciser dans la note)",
}


def is_known(code: str | None) -> bool:
    return bool(code) and code in REASONS


def label(code: str | None) -> str:
    """The French label of a code; an unknown code is shown as it is stored."""
    if not code:
        return ""
    return REASONS.get(code, code)


def choices(blank: str = "— Choisir un motif —") -> list[tuple[str, str]]:
    """(code, label) pairs for a select, a blank first."""
    return [("", blank), *REASONS.items()]


def codes() -> Iterator[str]:
    return iter(REASONS)
