"""The audit log as a person reads it: each action and object in French, and each event's
details as a few "label : value" lines instead of the JSON it is stored as.

The stored codes (`piece.added`, `dossiers`, `{"kind": "facture"}`) stay what they are in
the database, the seal and the exports: only the page shows these labels. An action or a
detail the catalogue does not know is still shown in French (its domain, "autre action";
"autre information"), never as its code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from portal import formatting
from portal.models import PIECE_KIND_LABELS
from portal.quality.rules import FINDING_LABELS
from portal.signalements.workflow import TRANSITIONS

ACTION_LABELS: dict[str, str] = {
    "access.denied": "Accès refusé",
    "api_token.created": "Jeton d'API créé",
    "api_token.revoked": "Jeton d'API révoqué",
    "auth.invitation_resent": "Invitation renvoyée",
    "auth.login": "Connexion",
    "auth.login_failed": "Échec de connexion",
    "auth.login_throttled": "Connexion bloquée (trop de tentatives)",
    "auth.logout": "Déconnexion",
    "auth.password_changed": "Mot de passe changé",
    "auth.password_reset_requested": "Réinitialisation du mot de passe demandée",
    "certificate.document_downloaded": "Certificat Qualiopi téléchargé",
    "certificate.recorded": "Certificat Qualiopi enregistré",
    "certificate.updated": "Certificat Qualiopi modifié",
    "certificate.upload_refused": "Fichier de certificat refusé",
    "certification_audit.deleted": "Audit de certification supprimé",
    "certification_audit.recorded": "Audit de certification enregistré",
    "certifier.created": "Certificateur créé",
    "cpf_turnover.saved": "Chiffre d'affaires CPF enregistré",
    "dossier.created": "Dossier créé",
    "dossier.exported": "Dossiers exportés",
    "dossier.imported": "Dossiers importés",
    "dossier.updated": "Dossier modifié",
    "dossier.subcontract_linked": "Dossier rattaché à un contrat de sous-traitance",
    "dossier.subcontract_unlinked": "Dossier détaché d'un contrat de sous-traitance",
    "funder.created": "Financeur créé",
    "funder.updated": "Financeur modifié",
    "piece.added": "Pièce envoyée",
    "piece.downloaded": "Pièce téléchargée",
    "piece.replaced": "Pièce remplacée",
    "piece.upload_refused": "Pièce refusée au dépôt",
    "provider.created": "Organisme créé",
    "provider.followed": "Organisme suivi",
    "qualiopi.alert_acknowledged": "Alerte Qualiopi vue",
    "qualiopi.alert_raised": "Alerte Qualiopi levée",
    "qualiopi.bulk_check": "Vérification Qualiopi groupée",
    "quality.control_closed": "Contrôle qualité clos",
    "quality.corrective_file_downloaded": "Fichier d'action corrective téléchargé",
    "quality.nc_answered": "Réponse de l'organisme à une non-conformité",
    "quality.nc_kept": "Non-conformité maintenue",
    "quality.nc_lifted": "Non-conformité levée",
    "quality.signalement_drafted": "Signalement prérempli depuis un contrôle qualité",
    "quality.upload_refused": "Fichier refusé (contrôle qualité)",
    "quality_control.created": "Contrôle qualité planifié",
    "quality_control.pack_downloaded": "Rapport et preuves téléchargés",
    "quality_control.report_viewed": "Rapport de contrôle qualité consulté",
    "quality_control.reported": "Rapport de contrôle qualité émis",
    "quality_control.shared": "Contrôle qualité partagé",
    "quality_control.unshared": "Contrôle qualité plus partagé",
    "quality_control.updated": "Contrôle qualité modifié",
    "quality_evidence.added": "Preuve jointe",
    "quality_evidence.downloaded": "Preuve téléchargée",
    "quality_evidence.removed": "Preuve retirée",
    "quality_evidence.upload_refused": "Preuve refusée au dépôt",
    "quality_finding.recorded": "Constat enregistré",
    "quality_findings.bulk_conforming": "Indicateurs enregistrés « Conforme » en une fois",
    "service_fait.answer_upload_refused": "Fichier de réponse refusé",
    "service_fait.assigned": "Dossier assigné",
    "service_fait.attachment_downloaded": "Pièce jointe téléchargée",
    "service_fait.bundle_exported": "Dossier de contrôle téléchargé",
    "service_fait.decision_reopened": "Décision rouverte",
    "service_fait.decision_taken": "Décision sur une facture",
    "service_fait.queue_exported": "File des contrôles exportée",
    "service_fait.request_answered": "Réponse à une demande de pièces",
    "service_fait.request_closed": "Demande de pièces close",
    "service_fait.request_created": "Demande de pièces envoyée",
    "service_fait.request_reminded": "Demande de pièces relancée",
    "service_fait.sampling_applied": "Échantillon mis en contrôle",
    "service_fait.sampling_drawn": "Échantillon tiré",
    "service_fait.template_created": "Modèle de message créé",
    "service_fait.template_deleted": "Modèle de message supprimé",
    "service_fait.template_updated": "Modèle de message modifié",
    "signalement.created": "Signalement créé",
    "signalement.evidence_downloaded": "Preuve de signalement téléchargée",
    "signalement.exported": "Signalements exportés",
    "signalement.message": "Message sur un signalement",
    "signalement.pack_downloaded": "Dossier de transmission téléchargé",
    "signalement.settings_changed": "Réglages des signalements modifiés",
    "signalement.updated": "Signalement modifié",
    "signalement.upload_refused": "Fichier de signalement refusé",
    **{
        f"signalement.{action.value}": "Signalement : " + spec.done
        for action, spec in TRANSITIONS.items()
    },
    "subcontract.declared": "Contrat de sous-traitance déclaré",
    "subcontract.document_downloaded": "Document de sous-traitance téléchargé",
    "subcontract.exported": "Contrats de sous-traitance exportés",
    "subcontract.updated": "Contrat de sous-traitance modifié",
    "subcontract.upload_refused": "Document de sous-traitance refusé",
    "user.created": "Compte créé",
    "user.deactivated": "Compte désactivé",
    "user.invitation_resent": "Invitation renvoyée",
    "user.invited": "Utilisateur invité",
    "user.reactivated": "Compte réactivé",
}

#: The domain of an action (its prefix), for an action the catalogue does not know yet.
DOMAIN_LABELS: dict[str, str] = {
    "access": "Accès",
    "api_token": "Jetons d'API",
    "auth": "Connexion",
    "certificate": "Certification",
    "certification_audit": "Certification",
    "certifier": "Certificateurs",
    "cpf_turnover": "Sous-traitance",
    "dossier": "Dossiers",
    "funder": "Financeurs",
    "piece": "Pièces",
    "provider": "Organismes",
    "qualiopi": "Qualiopi",
    "quality": "Contrôles qualité",
    "quality_control": "Contrôles qualité",
    "quality_evidence": "Contrôles qualité",
    "quality_finding": "Contrôles qualité",
    "quality_findings": "Contrôles qualité",
    "service_fait": "Service fait",
    "signalement": "Signalements",
    "subcontract": "Sous-traitance",
    "user": "Utilisateurs",
}

#: Objects by their table, singular.
OBJECT_LABELS: dict[str, str] = {
    "users": "Utilisateur",
    "funders": "Financeur",
    "providers": "Organisme",
    "dossiers": "Dossier",
    "pieces": "Pièce",
    "documents": "Document",
    "document_requests": "Demande de pièces",
    "invoice_decisions": "Décision",
    "service_fait_controls": "Contrôle de service fait",
    "message_templates": "Modèle de message",
    "sampling_draws": "Échantillon",
    "signalements": "Signalement",
    "certifiers": "Certificateur",
    "signalement_settings": "Réglages des signalements",
    "subcontracts": "Contrat de sous-traitance",
    "cpf_turnovers": "Chiffre d'affaires CPF",
    "certificates": "Certificat Qualiopi",
    "certification_audits": "Audit de certification",
    "quality_controls": "Contrôle qualité",
    "quality_findings": "Constat",
    "quality_evidence": "Preuve",
    "qualiopi_alerts": "Alerte Qualiopi",
    "bulk_checks": "Vérification groupée",
    "api_tokens": "Jeton d'API",
}

#: Detail keys, in French (those not listed are summed up as « autre information »).
KEY_LABELS: dict[str, str] = {
    "dossier_id": "dossier n°",
    "control_id": "contrôle n°",
    "provider_id": "organisme n°",
    "certificate_id": "certificat n°",
    "request_id": "demande n°",
    "invoice_id": "facture n°",
    "decision_id": "décision n°",
    "kind": "type",
    "period": "période",
    "sha256": "empreinte SHA-256",
    "size": "taille",
    "name": "fichier",
    "filename": "fichier",
    "duplicate_of": "même fichier que les dossiers",
    "code": "indicateur",
    "codes": "indicateurs",
    "excepted": "sauf",
    "scope": "portée",
    "finding": "constat",
    "previous": "constat précédent",
    "deadline": "échéance",
    "control_date": "date du contrôle",
    "audit_date": "date de l'audit",
    "mode": "modalité",
    "dossiers": "dossiers",
    "partners": "financeurs partenaires",
    "shared": "partagé",
    "year": "année",
    "amount": "montant",
    "as_of": "au",
    "format": "format",
    "count": "nombre",
    "filters": "filtres",
    "reason": "motif",
    "outcome": "décision",
    "reason_code": "motif",
    "amount_validated": "montant validé",
    "email": "adresse",
    "role": "rôle",
    "due_date": "date limite",
    "items": "pièces demandées",
    "status": "statut",
    "before": "avant",
    "after": "après",
    "document": "document",
    "documents": "documents",
    "certifier": "certificateur",
    "number": "numéro",
    "categories": "catégories",
    "start_date": "début",
    "end_date": "fin",
    "subcontractor_name": "sous-traitant",
    "subcontractor_nda": "NDA du sous-traitant",
    "price": "prix",
    "is_cpf": "CPF",
    "nda": "NDA",
    "siret": "SIRET",
    "ip": "adresse IP",
    "path": "page",
    "method": "méthode",
}

#: Values the details store as codes.
VALUE_LABELS: dict[str, str] = {
    **{str(k): v.lower() for k, v in PIECE_KIND_LABELS.items()},
    **{str(k): v.lower() for k, v in FINDING_LABELS.items()},
    "sur_site": "sur site",
    "a_distance": "à distance",
    "grille": "toute la grille",
}

ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_LINES = 8


def action_label(action: str) -> str:
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    domain = DOMAIN_LABELS.get(action.split(".", 1)[0], "Portail")
    return f"{domain} : autre action"


def object_label(object_type: str | None, object_id: str | None) -> str:
    if not object_type:
        return ""
    name = OBJECT_LABELS.get(object_type, "Objet")
    return f"{name} n° {object_id}" if object_id else name


def _value(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, int | float):
        return formatting.number(value)
    if isinstance(value, str):
        if ISO_DAY.match(value):
            return formatting.date_fr(date.fromisoformat(value))
        if len(value) == 64 and all(c in "0123456789abcdef" for c in value):
            return value[:12] + "…"  # an SHA-256: its start is enough to compare
        return VALUE_LABELS.get(value, value)
    if isinstance(value, list | tuple):
        if len(value) == 2 and all(isinstance(v, str) and ISO_DAY.match(v) for v in value):
            return formatting.period(value[0], value[1])
        return ", ".join(_value(v) for v in value) or "—"
    if isinstance(value, Mapping):
        return " ; ".join(f"{_key(k)} : {_value(v)}" for k, v in value.items() if _known(k))
    return str(value)


def _known(key: Any) -> bool:
    return str(key) in KEY_LABELS or not re.fullmatch(r"[a-z0-9_]+", str(key))


def _key(key: Any) -> str:
    return KEY_LABELS.get(str(key), str(key))


@dataclass(frozen=True)
class DetailLine:
    label: str
    value: str


def detail_lines(details: Mapping[str, Any] | None) -> list[DetailLine]:
    """The event's details as lines (« type : facture », « taille : 610 »); keys the
    catalogue does not know are counted in a last line, never shown as codes."""
    if not details:
        return []
    lines: list[DetailLine] = []
    unknown = 0
    for key, value in details.items():
        if key == "size" and isinstance(value, int):
            lines.append(DetailLine(_key(key), formatting.size(value)))
        elif _known(key):
            lines.append(DetailLine(_key(key), _value(value)))
        else:
            unknown += 1
    lines = lines[:MAX_LINES]
    if unknown:
        more = formatting.plural(unknown, "donnée enregistrée", "données enregistrées")
        lines.append(DetailLine("autres informations", more))
    return lines


def action_choices(actions: Iterable[str]) -> list[tuple[str, str]]:
    """(code, label) of the actions of the log, sorted by their label (the filter)."""
    return sorted(((a, action_label(a)) for a in set(actions)), key=lambda c: c[1])


def object_choices() -> list[tuple[str, str]]:
    return sorted(OBJECT_LABELS.items(), key=lambda c: c[1])
