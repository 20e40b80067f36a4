"""The pure rules of subcontracting, as tables of the field's cases ("Subcontracting and the
CPF ceiling"): each exemption and each breach, the 2024 period, the pro rata, the chains."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from portal.models import CONTRACT_MENTIONS
from portal.subcontracting.rules import (
    ComplianceResult,
    Contract,
    ListHistory,
    ListPeriod,
    Outcome,
    Settings,
    Turnover,
    ceiling_period,
    chain_label,
    chains,
    check_authorisation,
    check_certification,
    check_checklist,
    check_dereferenced,
    check_nda,
    check_sub_subcontracting,
    check_written_contract,
    contract_share,
    evaluate_ceiling,
    evaluate_contract,
    first_gap,
    micro_exemption,
    micro_thresholds,
)

D = date
ALL_MENTIONS = {name: True for name, _ in CONTRACT_MENTIONS}


def contract(**changes) -> Contract:
    """A compliant CPF contract for the whole of 2026, unless told otherwise."""
    base = Contract(
        id=1,
        principal_nda="76311234567",
        principal_name="Formapro",
        subcontractor_nda="76340987654",
        subcontractor_name="Atelier Sud",
        start=D(2026, 1, 1),
        end=D(2026, 12, 31),
        categories=("actions_formation",),
        is_cpf=True,
        price=Decimal("36500"),
        signed_contract="contrat.pdf",
        mentions=ALL_MENTIONS,
    )
    return replace(base, **changes)


def listed(start: date, end: date | None = None, **categories: bool) -> ListPeriod:
    return ListPeriod(start, end, **({"actions_formation": True} | categories))


CERTIFIED = ListHistory((listed(D(2025, 6, 1)),), since=D(2025, 6, 1))


# --- Helpers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("intervals", "expected"),
    [
        ([(D(2026, 1, 1), None)], None),
        ([], (D(2026, 1, 1), D(2026, 12, 31))),
        ([(D(2026, 1, 1), D(2026, 3, 1))], (D(2026, 3, 1), D(2026, 12, 31))),
        ([(D(2026, 2, 1), None)], (D(2026, 1, 1), D(2026, 1, 31))),
        ([(D(2025, 1, 1), D(2026, 3, 1)), (D(2026, 3, 1), None)], None),  # touching
        (
            [(D(2025, 1, 1), D(2026, 3, 1)), (D(2026, 4, 1), None)],
            (D(2026, 3, 1), D(2026, 3, 31)),
        ),
        ([(D(2025, 1, 1), D(2027, 1, 1))], None),  # ends after the period
    ],
)
def test_first_gap(intervals, expected) -> None:
    assert first_gap(D(2026, 1, 1), D(2026, 12, 31), intervals) == expected


# --- Micro-entrepreneur exemption ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("micro", "turnover", "settings", "exempt", "fact"),
    [
        (False, None, Settings(), False, "non déclaré au régime micro-social"),
        (True, None, Settings(), False, "sans son chiffre d'affaires"),
        (True, Decimal("50000"), Settings(), True, "exempté de Qualiopi"),
        (True, Decimal("77700"), Settings(), True, "au plus le seuil de 77\u202f700,00\u00a0€"),
        (True, Decimal("77700.01"), Settings(), False, "dépasse le seuil"),
        # The threshold is a setting: a lower one ends the exemption.
        (True, Decimal("50000"), Settings(micro_threshold=Decimal("40000")), False, "dépasse"),
    ],
)
def test_micro_exemption(micro, turnover, settings, exempt, fact) -> None:
    got, why = micro_exemption(
        contract(micro_entrepreneur=micro, micro_turnover=turnover), settings
    )
    assert got is exempt
    assert fact in why


TABLE_2026 = Settings(micro_thresholds=micro_thresholds("2026=83600"))


@pytest.mark.parametrize(
    ("start", "turnover", "settings", "exempt", "fact"),
    [
        # 2023–2025: 77,700 €, confirmed; exactly at the threshold is exempt.
        (D(2023, 1, 1), "77700", Settings(), True, "au plus le seuil de 77\u202f700,00\u00a0€ :"),
        (D(2025, 12, 31), "77700", Settings(), True, "au plus le seuil de 77\u202f700,00\u00a0€ :"),
        (D(2025, 12, 31), "77700.01", Settings(), False, "dépasse le seuil"),
        # 2026 not set: the latest known threshold, said to confirm.
        (D(2026, 1, 1), "77700", Settings(), True, "(seuil 2026 à confirmer)"),
        (D(2026, 1, 1), "77700.01", Settings(), False, "(seuil 2026 à confirmer)"),
        # Set for 2026 in the table: it applies, confirmed; 2025 keeps its own.
        (D(2026, 1, 1), "80000", TABLE_2026, True, "au plus le seuil de 83\u202f600,00\u00a0€ :"),
        (D(2025, 6, 1), "80000", TABLE_2026, False, "dépasse le seuil de 77\u202f700,00\u00a0€ :"),
        (D(2027, 6, 1), "80000", TABLE_2026, True, "(seuil 2027 à confirmer)"),
    ],
)
def test_micro_threshold_is_a_dated_table(start, turnover, settings, exempt, fact) -> None:
    got, why = micro_exemption(
        contract(
            start=start,
            end=D(start.year, 12, 31),
            micro_entrepreneur=True,
            micro_turnover=Decimal(turnover),
        ),
        settings,
    )
    assert got is exempt
    assert fact in why


def test_the_dated_table_is_written_for_users() -> None:
    assert Settings().micro_thresholds_label() == (
        "77\u202f700,00\u00a0€ (2023 à 2025) ; années suivantes : à confirmer"
    )


NOT_CERTIFIED = ListHistory((listed(D(2025, 6, 1), actions_formation=False),), D(2025, 6, 1))


@pytest.mark.parametrize(
    ("is_cpf", "history", "changes", "expected", "compliant"),
    [
        # CPF: a non-certified subcontractor fails, and so do the contract's mentions.
        (True, NOT_CERTIFIED, {}, {"certification": Outcome.FAIL}, False),
        (True, CERTIFIED, {"mentions": {}}, {"checklist": Outcome.FAIL}, False),
        # Outside the CPF: the certification is a point of attention (indicator 27), the
        # CPF-only rules are not applicable, the NDA and a written contract still count.
        (
            False,
            NOT_CERTIFIED,
            {"mentions": {}, "whole_certification": True, "certification_code": "RNCP1"},
            {
                "certification": Outcome.WARNING,
                "checklist": Outcome.NOT_APPLICABLE,
                "authorisation": Outcome.NOT_APPLICABLE,
                "sub_subcontracting": Outcome.NOT_APPLICABLE,
                "dereferenced": Outcome.NOT_APPLICABLE,
            },
            True,
        ),
        (False, CERTIFIED, {"signed_contract": None}, {"written_contract": Outcome.FAIL}, False),
        (False, ListHistory((), D(2025, 6, 1)), {}, {"nda": Outcome.FAIL}, False),
    ],
)
def test_the_cpf_rules_bind_cpf_contracts_only(is_cpf, history, changes, expected, compliant):
    result = evaluate_contract(contract(is_cpf=is_cpf, **changes), history)
    outcomes = {check.rule: check.outcome for check in result.checks}
    assert {rule: outcomes[rule] for rule in expected} == expected
    assert result.compliant is compliant
    if not is_cpf and history is NOT_CERTIFIED:
        fact = next(c.fact for c in result.checks if c.rule == "certification")
        assert "indicateur 27" in fact and "ne bloque pas le paiement" in fact


# --- NDA in the public list -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("history", "outcome", "fact"),
    [
        (CERTIFIED, Outcome.PASS, "figure dans la liste publique sur toute la période"),
        (ListHistory((), D(2025, 1, 1)), Outcome.FAIL, "ne figure dans aucune liste publique"),
        # Dropped out of the list (no more BPF) on 1 September.
        (
            ListHistory((listed(D(2025, 1, 1), D(2026, 9, 1)),), D(2025, 1, 1)),
            Outcome.FAIL,
            "absent de la liste publique du 01/09/2026 au 31/12/2026",
        ),
        # Not certified does not matter here: only the NDA's presence.
        (
            ListHistory((listed(D(2025, 1, 1), actions_formation=False),), D(2025, 1, 1)),
            Outcome.PASS,
            "figure dans la liste",
        ),
        # The history starts after the contract: checked from then on, and said so.
        (
            ListHistory((listed(D(2026, 3, 1)),), D(2026, 3, 1)),
            Outcome.PASS,
            "vérifié à partir du 01/03/2026",
        ),
        (ListHistory((), None), Outcome.UNKNOWN, "Aucune liste publique importée"),
        (ListHistory((), D(2027, 2, 1)), Outcome.UNKNOWN, "a pris fin avant la première liste"),
    ],
)
def test_nda_rule(history, outcome, fact) -> None:
    check = check_nda(contract(), history)
    assert check.outcome == outcome
    assert fact in check.fact


def test_the_nda_rule_applies_to_micro_entrepreneurs_too() -> None:
    micro = contract(micro_entrepreneur=True, micro_turnover=Decimal("20000"))
    assert check_nda(micro, ListHistory((), D(2025, 1, 1))).outcome == Outcome.FAIL


# --- Qualiopi certification on the contract's dates ----------------------------------------------

NOT_EXEMPT = (False, "Sous-traitant non déclaré au régime micro-social.")
EXEMPT = (True, "Micro-entrepreneur … exempté.")


@pytest.mark.parametrize(
    ("history", "categories", "exemption", "outcome", "fact"),
    [
        (CERTIFIED, ("actions_formation",), NOT_EXEMPT, Outcome.PASS, "Certifié Qualiopi pour"),
        (
            ListHistory((listed(D(2025, 1, 1), actions_formation=False),), D(2025, 1, 1)),
            ("actions_formation",),
            NOT_EXEMPT,
            Outcome.FAIL,
            "non certifié « Actions de formation » sur la période du contrat",
        ),
        # Lost mid-contract: certified until the list of 1 March, not after.
        (
            ListHistory(
                (
                    listed(D(2025, 1, 1), D(2026, 3, 1)),
                    listed(D(2026, 3, 1), actions_formation=False),
                ),
                D(2025, 1, 1),
            ),
            ("actions_formation",),
            NOT_EXEMPT,
            Outcome.FAIL,
            "certifié « Actions de formation » jusqu'au 28/02/2026, puis plus certifié du "
            "01/03/2026 au 31/12/2026 (certification perdue en cours de contrat)",
        ),
        # Certified only from 1 February: January is not covered.
        (
            ListHistory(
                (
                    listed(D(2025, 1, 1), D(2026, 2, 1), actions_formation=False),
                    listed(D(2026, 2, 1)),
                ),
                D(2025, 1, 1),
            ),
            ("actions_formation",),
            NOT_EXEMPT,
            Outcome.FAIL,
            "non certifié « Actions de formation » du 01/01/2026 au 31/01/2026, au début",
        ),
        # Two categories: the one missing is named.
        (
            CERTIFIED,
            ("actions_formation", "vae"),
            NOT_EXEMPT,
            Outcome.FAIL,
            "« Validation des acquis de l'expérience »",
        ),
        (
            ListHistory((listed(D(2025, 1, 1), vae=True),), D(2025, 1, 1)),
            ("actions_formation", "vae"),
            NOT_EXEMPT,
            Outcome.PASS,
            "« Actions de formation », « Validation des acquis de l'expérience »",
        ),
        # Exempt micro-entrepreneur: not certified, and it does not matter.
        (ListHistory((), D(2025, 1, 1)), ("actions_formation",), EXEMPT, Outcome.EXEMPT, "exempté"),
        (
            ListHistory((), None),
            ("actions_formation",),
            NOT_EXEMPT,
            Outcome.UNKNOWN,
            "ne peut pas être vérifié",
        ),
    ],
)
def test_certification_rule(history, categories, exemption, outcome, fact) -> None:
    check = check_certification(contract(categories=categories), history, exemption)
    assert check.outcome == outcome
    assert fact in check.fact


# --- Certifier's authorisation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "exemption", "outcome", "fact"),
    [
        ({}, NOT_EXEMPT, Outcome.NOT_APPLICABLE, "pas certifiante"),
        ({"certification_code": "RNCP37674"}, NOT_EXEMPT, Outcome.NOT_APPLICABLE, "ni la totalité"),
        (
            {"certification_code": "RNCP37674", "whole_certification": True},
            NOT_EXEMPT,
            Outcome.FAIL,
            "l'habilitation du certificateur à former n'est pas déclarée",
        ),
        (
            {
                "certification_code": "RS5678",
                "whole_certification": True,
                "authorisation_declared": True,
            },
            NOT_EXEMPT,
            Outcome.FAIL,
            "son document n'est pas déposé",
        ),
        (
            {
                "certification_code": "RS5678",
                "whole_certification": True,
                "authorisation_declared": True,
                "authorisation_document": "habilitation.pdf",
            },
            NOT_EXEMPT,
            Outcome.PASS,
            "« habilitation.pdf » déposé",
        ),
        (
            {"certification_code": "RNCP37674", "whole_certification": True},
            EXEMPT,
            Outcome.EXEMPT,
            "exempté",
        ),
    ],
)
def test_authorisation_rule(changes, exemption, outcome, fact) -> None:
    check = check_authorisation(contract(**changes), exemption)
    assert check.outcome == outcome
    assert fact in check.fact


# --- Dereferenced, written contract, checklist --------------------------------------------------


@pytest.mark.parametrize(
    ("is_cpf", "dereferenced", "outcome"),
    [
        (True, False, Outcome.PASS),
        (True, True, Outcome.FAIL),
        (False, True, Outcome.NOT_APPLICABLE),  # only a CPF action is barred
        (False, False, Outcome.NOT_APPLICABLE),
    ],
)
def test_dereferenced_rule(is_cpf, dereferenced, outcome) -> None:
    check = check_dereferenced(contract(is_cpf=is_cpf, dereferenced=dereferenced))
    assert check.outcome == outcome
    if outcome == Outcome.FAIL:
        assert "déréférencé de Mon Compte Formation" in check.fact


@pytest.mark.parametrize(
    ("signed", "outcome", "fact"),
    [("contrat-signe.pdf", Outcome.PASS, "« contrat-signe.pdf »"), (None, Outcome.FAIL, "écrit")],
)
def test_written_contract_rule(signed, outcome, fact) -> None:
    check = check_written_contract(contract(signed_contract=signed))
    assert check.outcome == outcome
    assert fact in check.fact


@pytest.mark.parametrize(
    ("missing", "outcome", "fact"),
    [
        ((), Outcome.PASS, "les 8 éléments obligatoires"),
        (("mentions_sanction",), Outcome.FAIL, "ne mentionne pas : la sanction de la formation."),
        (
            ("mentions_missions", "mentions_price"),
            Outcome.FAIL,
            "ne mentionne pas : les missions confiées, le prix de la prestation.",
        ),
        (
            tuple(name for name, _ in CONTRACT_MENTIONS),
            Outcome.FAIL,
            "la période de réalisation, le prix",
        ),
    ],
)
def test_checklist_rule(missing, outcome, fact) -> None:
    mentions = {name: name not in missing for name, _ in CONTRACT_MENTIONS}
    check = check_checklist(contract(mentions=mentions))
    assert check.outcome == outcome
    assert fact in check.fact


# --- Chains: a subcontractor may not subcontract ----------------------------------------------

A, B, C, E = "76311234567", "76340987654", "76310555123", "11750000022"
NAMES = {A: "Formapro", B: "Atelier Sud", C: "Bilans Toulouse", E: "Académie Paris"}


def link(contract_id: int, principal: str, subcontractor: str, **changes) -> Contract:
    return contract(
        id=contract_id,
        principal_nda=principal,
        principal_name=NAMES[principal],
        subcontractor_nda=subcontractor,
        subcontractor_name=NAMES[subcontractor],
        **changes,
    )


@pytest.mark.parametrize(
    ("others", "expected"),
    [
        ([], []),
        # B subcontracts the same actions to C over the same year: A → B → C.
        ([link(2, B, C)], ["Formapro → Atelier Sud → Bilans Toulouse"]),
        # … then C to E: the whole chain.
        (
            [link(2, B, C), link(3, C, E)],
            ["Formapro → Atelier Sud → Bilans Toulouse → Académie Paris"],
        ),
        # A is itself the subcontractor of E for these actions: E → A → B.
        ([link(4, E, A)], ["Académie Paris → Formapro → Atelier Sud"]),
        # Not the same actions: periods apart, another category, another certification.
        ([link(2, B, C, start=D(2027, 1, 1), end=D(2027, 6, 30))], []),
        ([link(2, B, C, categories=("bilans_competences",))], []),
        ([link(2, B, C, certification_code="RNCP1")], ["Formapro → Atelier Sud → Bilans Toulouse"]),
        # Both certifying: the same code is needed.
        ([link(2, B, C, certification_code="RNCP2")], "with code RNCP1"),
        # Another OF's contract with C does not concern A's subcontractor.
        ([link(2, E, C)], []),
        # A cycle (B subcontracts back to A) stops where it comes back.
        (
            [link(2, B, A)],
            ["Atelier Sud → Formapro → Atelier Sud", "Formapro → Atelier Sud → Formapro"],
        ),
    ],
)
def test_chains(others, expected) -> None:
    if expected == "with code RNCP1":
        main = link(1, A, B, certification_code="RNCP1")
        assert chains(main, others) == []
        return
    main = link(1, A, B)
    assert [chain_label(chain) for chain in chains(main, others)] == expected


def test_sub_subcontracting_fails_both_ends_of_the_chain_with_the_facts() -> None:
    first, second = link(1, A, B), link(2, B, C, start=D(2026, 3, 1), end=D(2026, 5, 31))
    upstream = check_sub_subcontracting(first, chains(first, [second]))
    downstream = check_sub_subcontracting(second, chains(second, [first]))
    assert upstream.outcome == downstream.outcome == Outcome.FAIL
    assert (
        "Atelier Sud sous-traite à son tour à Bilans Toulouse pour ces actions (contrat du "
        "01/03/2026 au 31/05/2026)" in upstream.fact
    )
    assert "Atelier Sud est lui-même sous-traitant de Formapro" in downstream.fact
    assert upstream.fact.endswith("Chaîne : Formapro → Atelier Sud → Bilans Toulouse.")
    assert check_sub_subcontracting(first, []).outcome == Outcome.PASS


# --- A whole contract -------------------------------------------------------------------------


def test_a_compliant_contract_passes_every_rule() -> None:
    result = evaluate_contract(contract(), CERTIFIED)
    assert result.compliant
    assert [c.rule for c in result.checks] == [
        "nda",
        "certification",
        "authorisation",
        "sub_subcontracting",
        "dereferenced",
        "written_contract",
        "checklist",
    ]
    assert all(c.fact for c in result.checks)


def test_an_exempt_micro_entrepreneur_needs_neither_qualiopi_nor_authorisation() -> None:
    micro = contract(
        micro_entrepreneur=True,
        micro_turnover=Decimal("30000"),
        certification_code="RNCP37674",
        whole_certification=True,
    )
    not_certified = ListHistory((listed(D(2025, 1, 1), actions_formation=False),), D(2025, 1, 1))
    result = evaluate_contract(micro, not_certified)
    assert result.compliant
    outcomes = {c.rule: c.outcome for c in result.checks}
    assert outcomes["certification"] == outcomes["authorisation"] == Outcome.EXEMPT
    # Above the threshold, both are due again.
    result = evaluate_contract(replace(micro, micro_turnover=Decimal("90000")), not_certified)
    assert {c.rule for c in result.failures} == {"certification", "authorisation"}


def test_compliance_result_lists_the_failing_facts() -> None:
    result = evaluate_contract(contract(signed_contract=None, dereferenced=True), CERTIFIED)
    summary = ComplianceResult.of(1, result.checks)
    assert summary.compliant is False
    assert summary.failures == (
        "Sous-traitant non déréférencé de Mon Compte Formation : Le sous-traitant est "
        "déréférencé de Mon Compte Formation : il ne peut pas réaliser une action CPF en "
        "sous-traitance.",
        "Contrat écrit et signé : Aucun contrat signé déposé : la sous-traitance doit faire "
        "l'objet d'un contrat écrit.",
    )
    assert ComplianceResult.of(1, evaluate_contract(contract(), CERTIFIED).checks).compliant


# --- The CPF ceiling ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (2023, None),
        (2024, (D(2024, 4, 1), D(2024, 12, 31))),  # arrêté of 3 January 2024
        (2025, (D(2025, 1, 1), D(2025, 12, 31))),
        (2026, (D(2026, 1, 1), D(2026, 12, 31))),
    ],
)
def test_ceiling_period(year, expected) -> None:
    assert ceiling_period(year) == expected


@pytest.mark.parametrize(
    ("changes", "year", "until", "expected"),
    [
        # The whole contract in the year: its price.
        ({"start": D(2025, 1, 1), "end": D(2025, 12, 31)}, 2025, None, "36500"),
        # 2024 counts from 1 April only: 275 of the 366 days of a contract for all 2024.
        (
            {"start": D(2024, 1, 1), "end": D(2024, 12, 31), "price": Decimal("36600")},
            2024,
            None,
            "27500",
        ),
        # Over two years, pro rata of its days in each: 184 days in 2025, 181 in 2026.
        ({"start": D(2025, 7, 1), "end": D(2026, 6, 30)}, 2025, None, "18400"),
        ({"start": D(2025, 7, 1), "end": D(2026, 6, 30)}, 2026, None, "18100"),
        # Amounts per year given: they win over the pro rata.
        (
            {
                "start": D(2025, 7, 1),
                "end": D(2026, 6, 30),
                "yearly_amounts": {2025: Decimal("10000"), 2026: Decimal("26500")},
            },
            2026,
            None,
            "26500",
        ),
        ({"yearly_amounts": {2027: Decimal("100")}}, 2026, None, "0"),
        # Up to a date: the days counted so far (90 of 365).
        ({"start": D(2025, 1, 1), "end": D(2025, 12, 31)}, 2025, D(2025, 3, 31), "9000"),
        ({"start": D(2025, 1, 1), "end": D(2025, 12, 31)}, 2023, None, "0"),  # no ceiling
        ({"start": D(2026, 1, 1), "end": D(2026, 12, 31)}, 2025, None, "0"),  # another year
        # An amount entered for 2024 counts for the contract's days from 1 April (issue 14):
        # ended on 31 March 2024, nothing; ended on 1 April 2024, one day of 91.
        (
            {
                "start": D(2024, 1, 1),
                "end": D(2024, 3, 31),
                "yearly_amounts": {2024: Decimal("9100")},
            },
            2024,
            None,
            "0",
        ),
        (
            {
                "start": D(2024, 1, 2),
                "end": D(2024, 4, 1),
                "yearly_amounts": {2024: Decimal("9100")},
            },
            2024,
            None,
            "100",
        ),
        # Begun on 1 April 2024: the whole amount.
        (
            {
                "start": D(2024, 4, 1),
                "end": D(2024, 12, 31),
                "yearly_amounts": {2024: Decimal("5000")},
            },
            2024,
            None,
            "5000",
        ),
        # Without amounts, the price pro rata: ended 31 March 2024, nothing in 2024.
        ({"start": D(2024, 1, 1), "end": D(2024, 3, 31)}, 2024, None, "0"),
        # Over two years with amounts: 2025's amount over its 184 days, all inside 2025.
        (
            {
                "start": D(2025, 7, 1),
                "end": D(2026, 6, 30),
                "yearly_amounts": {2025: Decimal("18400")},
            },
            2025,
            D(2025, 7, 31),
            "3100",
        ),
    ],
)
def test_contract_share(changes, year, until, expected) -> None:
    assert contract_share(contract(**changes), year, until) == Decimal(expected)


def ceiling(turnover: str | None, *contracts: Contract, year: int = 2026, as_of=None, **kw):
    amount = Turnover(year, Decimal(turnover), as_of) if turnover is not None else None
    return evaluate_ceiling(year, amount, contracts, **kw)


@pytest.mark.parametrize(
    ("turnover", "price", "outcome", "ratio", "fact"),
    [
        ("100000", "60000", Outcome.PASS, "0.6", "soit 60,0\u00a0%"),
        ("100000", "69999.99", Outcome.PASS, "0.6999999", "alerte à partir de 70,0\u00a0%"),
        ("100000", "70000", Outcome.WARNING, "0.7", "Proche du plafond"),
        ("100000", "80000", Outcome.WARNING, "0.8", "Proche du plafond"),  # 80 % is allowed
        ("100000", "80000.01", Outcome.FAIL, "0.8000001", "Plafond dépassé"),
        ("100000", "150000", Outcome.FAIL, "1.5", "soit 150,0\u00a0%"),
        ("0", "1000", Outcome.FAIL, None, "nul : toute sous-traitance CPF"),
        (None, "1000", Outcome.UNKNOWN, None, "non renseigné"),
    ],
)
def test_ceiling_levels(turnover, price, outcome, ratio, fact) -> None:
    found = ceiling(turnover, contract(price=Decimal(price)))
    assert found.outcome == outcome
    if ratio is not None:
        assert found.ratio.quantize(Decimal("0.0000001")) == Decimal(ratio)
    assert fact in found.fact


def test_the_ceiling_counts_only_cpf_contracts_and_none_means_nothing_to_check() -> None:
    not_cpf = contract(is_cpf=False, price=Decimal("90000"))
    found = ceiling("100000", not_cpf)
    assert found.outcome == Outcome.PASS
    assert found.subcontracted == 0
    assert "Aucune sous-traitance CPF déclarée pour l'année 2026" in found.fact
    assert ceiling(None).outcome == Outcome.PASS  # no turnover and no subcontracting


def test_the_ceiling_of_2024_runs_from_april() -> None:
    # A CPF contract for all of 2024, 36,600 €: 27,500 € fall in April–December.
    all_2024 = contract(start=D(2024, 1, 1), end=D(2024, 12, 31), price=Decimal("36600"))
    found = ceiling("34375", all_2024, year=2024)
    assert found.period == (D(2024, 4, 1), D(2024, 12, 31))
    assert found.subcontracted == Decimal("27500.00")
    assert found.ratio == Decimal("0.8")
    assert found.outcome == Outcome.WARNING
    assert "2024 (du 01/04/2024 au 31/12/2024)" in found.fact
    # A contract over January–March 2024 is outside the ceiling.
    early = contract(start=D(2024, 1, 1), end=D(2024, 3, 31))
    assert ceiling("1000", early, year=2024).subcontracted == 0
    assert ceiling("1000", all_2024, year=2023).outcome == Outcome.NOT_APPLICABLE


def test_the_year_to_date_ratio_and_its_projection() -> None:
    # Turnover counted to 30 June (181 days): 18,100 €, i.e. 36,500 € over the year at
    # that pace; a CPF contract for the second half, 30,000 €: nothing yet, 82 % at the end.
    second_half = contract(start=D(2025, 7, 1), end=D(2025, 12, 31), price=Decimal("30000"))
    found = ceiling("18100", second_half, year=2025, as_of=D(2025, 6, 30))
    assert found.ratio == 0
    assert found.projection.quantize(Decimal("0.0001")) == Decimal("0.8219")
    assert found.outcome == Outcome.WARNING
    assert "arrêté au 30/06/2025" in found.fact
    assert "projection en fin de période : 82,2\u00a0%" in found.fact
    assert "serait dépassé en fin de période" in found.fact
    # A steady contract over the year: the projection is the ratio.
    steady = contract(start=D(2025, 1, 1), end=D(2025, 12, 31), price=Decimal("36500"))
    found = ceiling("36200", steady, year=2025, as_of=D(2025, 6, 30))
    assert found.subcontracted == Decimal("18100.00")
    assert found.ratio == Decimal("0.5")
    assert found.projection == Decimal("0.5")
    assert found.outcome == Outcome.PASS


def test_the_warning_rate_is_a_setting() -> None:
    found = ceiling("100000", contract(price=Decimal("72000")))
    assert found.outcome == Outcome.WARNING
    later = ceiling(
        "100000", contract(price=Decimal("72000")), settings=Settings(warning_rate=Decimal("0.75"))
    )
    assert later.outcome == Outcome.PASS
    assert "alerte à partir de 75,0\u00a0%" in later.fact
