"""Compliance from the database: the list's history (a subcontractor that lost its
certification mid-contract, from two successive lists), chains between OF, the ceilings,
and the function the service-fait checks call."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from flask import current_app

from portal.extensions import db
from portal.models import CpfTurnover
from portal.subcontracting import services
from portal.subcontracting.rules import ComplianceResult, Outcome
from tests.dossiers.piece_helpers import make_dossier
from tests.factories import FunderFactory
from tests.subcontracting.helpers import (
    MICRO,
    PRINCIPAL,
    SECOND,
    SUB,
    import_lists,
    make_contract,
    provider_of,
)

JAN, MAR = date(2026, 1, 1), date(2026, 3, 1)


def outcomes(contract) -> dict[str, Outcome]:
    result = services.evaluate([contract])[contract.id]
    return {check.rule: check.outcome for check in result.checks}


def facts(contract) -> dict[str, str]:
    result = services.evaluate([contract])[contract.id]
    return {check.rule: check.fact for check in result.checks}


def test_a_subcontractor_certified_all_along_is_compliant(app, tmp_path) -> None:
    import_lists(tmp_path, (JAN, [PRINCIPAL, SUB]), (MAR, [PRINCIPAL, SUB]))
    contract = make_contract(provider_of(PRINCIPAL))
    result = services.evaluate([contract])[contract.id]
    assert result.compliant, [c.fact for c in result.failures]


def test_a_subcontractor_that_lost_its_certification_mid_contract(app, tmp_path) -> None:
    # The list of 1 January says it is certified for training actions; that of 1 March
    # no longer does. The contract runs from 15 January to 30 June.
    import_lists(tmp_path, (JAN, [PRINCIPAL, SUB]), (MAR, [PRINCIPAL, SUB.but(formation=False)]))
    contract = make_contract(provider_of(PRINCIPAL))
    assert outcomes(contract)["certification"] == Outcome.FAIL
    assert outcomes(contract)["nda"] == Outcome.PASS  # still in the list
    assert (
        "certifié « Actions de formation » jusqu'au 28/02/2026, puis plus certifié du "
        "01/03/2026 au 30/06/2026 (certification perdue en cours de contrat)"
    ) in facts(contract)["certification"]
    # A contract that ended before the loss is not concerned.
    earlier = make_contract(provider_of(PRINCIPAL), end_date=date(2026, 2, 28))
    assert outcomes(earlier)["certification"] == Outcome.PASS


def test_a_subcontractor_that_left_the_list(app, tmp_path) -> None:
    import_lists(tmp_path, (JAN, [PRINCIPAL, SUB, SECOND]), (MAR, [PRINCIPAL, SECOND, MICRO]))
    contract = make_contract(provider_of(PRINCIPAL))
    assert outcomes(contract)["nda"] == Outcome.FAIL
    assert "absent de la liste publique du 01/03/2026 au 30/06/2026" in facts(contract)["nda"]


def test_a_micro_entrepreneur_under_the_threshold_is_exempt(app, tmp_path) -> None:
    import_lists(tmp_path, (JAN, [PRINCIPAL, MICRO]))
    principal = provider_of(PRINCIPAL)
    micro = make_contract(
        principal, MICRO, micro_entrepreneur=True, micro_turnover=Decimal("42000.00")
    )
    assert outcomes(micro)["certification"] == Outcome.EXEMPT
    assert services.evaluate([micro])[micro.id].compliant
    # The threshold is a setting.
    current_app.config["MICRO_ENTREPRENEUR_THRESHOLD"] = Decimal("40000")
    assert outcomes(micro)["certification"] == Outcome.FAIL


def test_chains_between_of_of_the_portal(app, tmp_path) -> None:
    import_lists(tmp_path, (JAN, [PRINCIPAL, SUB, SECOND.but(formation=True)]))
    principal, sub = provider_of(PRINCIPAL), provider_of(SUB)
    first = make_contract(principal, SUB)
    second = make_contract(
        sub, SECOND, start_date=date(2026, 3, 1), end_date=date(2026, 4, 30), is_cpf=False
    )
    results = services.evaluate([first, second])
    assert outcomes(first)["sub_subcontracting"] == Outcome.FAIL
    assert outcomes(second)["sub_subcontracting"] == Outcome.FAIL
    labels = [
        " → ".join([c[0].principal_name, *(x.subcontractor_name for x in c)])
        for c in results[first.id].chains
    ]
    assert labels == ["Formapro Occitanie → Atelier des Compétences du Sud → Bilans et Parcours"]
    # Another period: no longer the same actions.
    second.start_date, second.end_date = date(2026, 9, 1), date(2026, 10, 31)
    db.session.commit()
    assert outcomes(first)["sub_subcontracting"] == Outcome.PASS


def test_ceilings_from_turnover_and_contracts(app, tmp_path) -> None:
    import_lists(tmp_path, (JAN, [PRINCIPAL, SUB]))
    principal = provider_of(PRINCIPAL)
    # 2026: 18,000 € over 15 January–30 June, and 2025 given year by year.
    make_contract(principal)
    make_contract(
        principal,
        start_date=date(2025, 11, 1),
        end_date=date(2026, 1, 31),
        price=Decimal("9000.00"),
        yearly={2025: Decimal("6000.00"), 2026: Decimal("3000.00")},
    )
    make_contract(principal, is_cpf=False, price=Decimal("50000.00"))  # not counted
    db.session.add_all(
        [
            CpfTurnover(provider_id=principal.id, year=2026, amount=Decimal("30000.00")),
            CpfTurnover(provider_id=principal.id, year=2025, amount=Decimal("40000.00")),
        ]
    )
    db.session.commit()
    found = {
        c.year: c for c in services.ceilings([principal.id], today=date(2026, 2, 1))[principal.id]
    }
    assert sorted(found) == [2025, 2026]
    assert found[2025].subcontracted == Decimal("6000.00")
    assert found[2025].outcome == Outcome.PASS
    assert found[2026].subcontracted == Decimal("21000.00")
    assert found[2026].ratio == Decimal("0.7")
    assert found[2026].outcome == Outcome.WARNING


def test_dossier_subcontract_compliance_for_the_service_fait_checks(
    app, tmp_path, count_queries
) -> None:
    import_lists(tmp_path, (JAN, [PRINCIPAL, SUB]), (MAR, [PRINCIPAL, SUB.but(formation=False)]))
    principal = provider_of(PRINCIPAL)
    funder = FunderFactory()
    broken = make_contract(principal)  # the subcontractor lost its certification in March
    fine = make_contract(principal, end_date=date(2026, 2, 28), is_cpf=False)
    dossiers = [
        make_dossier(
            funder,
            principal,
            subcontracted=True,
            subcontract_id=contract.id,
            start_date=date(2026, 1, 15),
            end_date=date(2026, 2, 27),
        )
        for contract in (broken, fine, broken)
    ]
    unlinked = make_dossier(funder, principal)
    db.session.add(CpfTurnover(provider_id=principal.id, year=2026, amount=Decimal("10000.00")))
    db.session.commit()
    ids = [d.id for d in dossiers] + [unlinked.id, 999999]

    result = services.dossier_subcontract_compliance(ids)

    assert set(result) == set(ids)
    assert result[unlinked.id] is None and result[999999] is None
    first, second, third = (result[d.id] for d in dossiers)
    assert isinstance(first, ComplianceResult)
    assert (first.subcontract_id, first.compliant) == (broken.id, False)
    assert any("certification perdue en cours de contrat" in f for f in first.failures)
    # 18,000 € of CPF subcontracting on 10,000 € of CPF turnover: above the ceiling.
    assert any(f.startswith("Plafond de 80 % du chiffre d'affaires CPF : ") for f in first.failures)
    assert second.compliant and second.failures == ()
    assert {c.rule for c in second.checks} == {
        "nda",
        "certification",
        "authorisation",
        "sub_subcontracting",
        "dereferenced",
        "written_contract",
        "checklist",
    }
    assert third == first

    # Batched: the number of queries does not grow with the number of dossiers (counted
    # on the application that serves requests, as the service-fait pages will call it).
    with app.app_context():
        with count_queries() as one:
            services.dossier_subcontract_compliance(ids[:1])
        with count_queries() as many:
            services.dossier_subcontract_compliance(ids)
    assert many.count == one.count


@pytest.mark.parametrize("subcontracted", [False, True])
def test_unticking_subcontracted_unlinks_the_dossier(app, tmp_path, subcontracted) -> None:
    from portal.dossiers import services as dossier_services
    from tests.factories import UserFactory

    principal = provider_of(PRINCIPAL)
    funder = FunderFactory()
    contract = make_contract(principal)
    dossier = make_dossier(funder, principal, subcontracted=True, subcontract_id=contract.id)
    controller = UserFactory(role="controller", funder=funder)
    values = dossier_services.form_values(dossier)
    values["subcontracted"] = subcontracted
    dossier_services.update_dossier(controller, dossier, values, expected_version=dossier.version)
    db.session.commit()
    assert dossier.subcontract_id == (contract.id if subcontracted else None)
