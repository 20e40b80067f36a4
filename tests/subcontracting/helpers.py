"""Helpers of the subcontracting tests: successive public lists, contracts written straight
to the database, and the contract form as a browser sends it."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import current_app

from portal.extensions import db
from portal.models import CONTRACT_MENTIONS, Document, Provider, Subcontract, SubcontractYearAmount
from portal.public_list.importer import import_list
from portal.storage import new_key, storage_for
from tests.public_list.lists import Org, write_list
from tests.test_uploads import make_pdf

PDF = make_pdf("Contrat de sous-traitance")
PRINCIPAL = Org("76311234567", "Formapro Occitanie", "81234567")
SUB = Org("76340987654", "Atelier des Compétences du Sud", "79876543")
SECOND = Org("76310555123", "Bilans et Parcours", "50213467", formation=False, bilans=True)
MICRO = Org("76320000011", "Jeanne Martin EI", "31234567", formation=False)


def import_lists(tmp_path: Path, *lists: tuple[date, list[Org]]) -> None:
    """Import successive public lists, oldest first (the portal's history)."""
    for index, (on, orgs) in enumerate(lists):
        import_list(
            str(write_list(tmp_path / f"liste-{index}.csv", orgs)), as_of=on, triggered_by="test"
        )


def provider_of(org: Org) -> Provider:
    provider = db.session.query(Provider).filter_by(nda=org.nda).one_or_none()
    if provider is None:
        provider = Provider(nda=org.nda, siren=org.siren, siret=org.siret, name=org.name)
        db.session.add(provider)
        db.session.commit()
    return provider


def document(name: str = "contrat-signe.pdf") -> Document:
    """A PDF in the file store and its row."""
    key = new_key()
    storage_for(current_app).save(key, io.BytesIO(PDF))
    return Document(
        storage_key=key,
        sha256="0" * 64,
        size=len(PDF),
        content_type="application/pdf",
        original_name=name,
    )


def make_contract(
    principal: Provider, sub: Org = SUB, *, yearly: dict[int, Decimal] | None = None, **values
) -> Subcontract:
    """A compliant CPF contract for 2026, written straight to the database."""
    fields: dict[str, Any] = {
        "subcontractor_nda": sub.nda,
        "subcontractor_siret": sub.siret,
        "subcontractor_name": sub.name,
        "actions": "Titre professionnel Développeur web : modules 3 et 4",
        "categories": "actions_formation",
        "start_date": date(2026, 1, 15),
        "end_date": date(2026, 6, 30),
        "is_cpf": True,
        "price": Decimal("18000.00"),
        "contract_document": document(),
        **{name: True for name, _ in CONTRACT_MENTIONS},
    }
    fields.update(values)
    contract = Subcontract(principal_id=principal.id, **fields)
    for year, amount in (yearly or {}).items():
        contract.yearly_amounts.append(SubcontractYearAmount(year=year, amount=amount))
    db.session.add(contract)
    db.session.commit()
    return contract


def form_data(**changes: Any) -> dict[str, Any]:
    """Valid values of the contract form (every mention ticked)."""
    data: dict[str, Any] = {
        "subcontractor_nda": SUB.nda,
        "subcontractor_siret": SUB.siret,
        "subcontractor_name": "",
        "actions": "Titre professionnel Développeur web : modules 3 et 4",
        "categories": ["actions_formation"],
        "start_date": "2026-01-15",
        "end_date": "2026-06-30",
        "is_cpf": "y",
        "certification_code": "",
        "price": "18 000,00",
        "yearly_amounts": "",
        "micro_turnover": "",
        **{name: "y" for name, _ in CONTRACT_MENTIONS},
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def post_contract(auth, path: str, data: dict[str, Any], files: dict[str, tuple[str, bytes]]):
    body = dict(data)
    for name, (filename, content) in files.items():
        body[name] = (io.BytesIO(content), filename)
    return auth.post(path, body, content_type="multipart/form-data", token_from=path)
