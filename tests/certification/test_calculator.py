"""The audit-duration calculator through HTTP: the five worked examples of the audit-duration
rules, the lines of each computation, the figures "à confirmer", without and with HTMX."""

from __future__ import annotations

import re

import pytest

from portal.models import Role

URL = "/certification/duree-audit"


def total_of(page: str) -> str:
    match = re.search(r"Durée de référence : ([\d,]+) jours?", page)
    assert match, page
    return match.group(1)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # < 150 k€, formation only, no extra site → 1 day
        ({"turnover": "90 000", "categories": ["actions_formation"], "sites": "0"}, "1"),
        # < 150 k€, formation + VAE, 2 sites → 1.5
        ({"turnover": "120000", "categories": ["actions_formation", "vae"], "sites": "2"}, "1,5"),
        # 150–750 k€, formation + apprenticeship, 3 sites → 3
        (
            {
                "band": "150k_750k",
                "categories": ["actions_formation", "apprentissage"],
                "sites": "3",
            },
            "3",
        ),
        # ≥ 750 k€, formation + apprenticeship, 2 sites → 3.5
        (
            {
                "turnover": "900 000,00",
                "categories": ["actions_formation", "apprentissage"],
                "sites": "2",
            },
            "3,5",
        ),
        # 2.5 M€, formation + BDC + VAE, 17 sites → 5
        (
            {
                "turnover": "2500000",
                "categories": ["actions_formation", "bilans_competences", "vae"],
                "sites": "17",
            },
            "5",
        ),
    ],
)
def test_the_five_worked_examples(client, login_as, query, expected) -> None:
    login_as(Role.CONTROLLER)
    response = client.get(URL, query_string={"kind": "initial", **query})
    assert response.status_code == 200
    assert total_of(response.get_data(as_text=True)) == expected


def test_each_line_and_the_source_are_shown(client, login_as) -> None:
    login_as(Role.PROVIDER)
    page = client.get(
        URL,
        query_string={
            "turnover": "2500000",
            "categories": ["actions_formation", "bilans_competences", "vae"],
            "sites": "17",
        },
    ).get_data(as_text=True)
    assert "Base (une catégorie)" in page
    assert "2 catégories en plus" in page
    assert "17 sites en plus" in page
    assert "arrêté du 6 juin 2019" in page
    # Example 5 fixes every figure it uses.
    assert "Tous les chiffres utilisés sont confirmés" in page


def test_figures_not_fixed_by_the_examples_are_to_be_confirmed(client, login_as) -> None:
    login_as(Role.MINISTRY)
    page = client.get(
        URL,
        query_string={
            "band": "moins_150k",
            "categories": ["vae"],
            "kind": "surveillance",
            "new_entrant": "y",
        },
    ).get_data(as_text=True)
    assert total_of(page) == "1"  # 0.5 (to confirm) + 0.5 new entrant
    assert (
        "Base de l&#39;audit de surveillance" in page or "Base de l'audit de surveillance" in page
    )
    assert "Nouvel entrant" in page
    assert "À confirmer" in page
    assert "Résultat à confirmer" in page


def test_the_turnover_typed_gives_the_band(client, login_as) -> None:
    login_as(Role.ADMIN)
    page = client.get(
        URL,
        query_string={
            "turnover": "200 000",
            "band": "moins_150k",
            "categories": ["actions_formation"],
        },
    ).get_data(as_text=True)
    assert "de 150 000 € à moins de 750 000 €" in page
    assert total_of(page) == "1,5"


def test_an_empty_form_explains_and_missing_inputs_are_said(client, login_as) -> None:
    login_as(Role.FUNDER_ADMIN)
    first = client.get(URL).get_data(as_text=True)
    assert "la durée s&#39;affiche ici" in first or "la durée s'affiche ici" in first
    page = client.get(URL, query_string={"sites": "-3"}).get_data(as_text=True)
    assert "Indiquez le chiffre d" in page
    assert "Cochez au moins une catégorie" in page
    assert "nombre entier positif ou nul" in page
    assert "Durée de référence" not in page


def test_htmx_gets_only_the_result_region(client, login_as) -> None:
    login_as(Role.CONTROLLER)
    response = client.get(
        URL,
        query_string={"turnover": "100000", "categories": ["actions_formation"]},
        headers={"HX-Request": "true"},
    )
    body = response.get_data(as_text=True)
    assert "<html" not in body
    assert body.lstrip().startswith('<section id="resultat"')
    assert 'aria-live="polite"' in body
    assert total_of(body) == "1"
    assert "HX-Request" in response.headers["Vary"]


def test_the_page_works_without_javascript(client, login_as) -> None:
    login_as(Role.CONTROLLER)
    page = client.get(URL).get_data(as_text=True)
    assert 'method="get"' in page
    assert 'type="submit"' in page
    assert 'hx-get="/certification/duree-audit"' in page


def test_a_setting_overrides_a_cell(app, client, login_as) -> None:
    app.config["AUDIT_DURATIONS"] = {
        "surveillance_base": {"moins_150k": {"days": "1", "confirmed": True}}
    }
    login_as(Role.CONTROLLER)
    page = client.get(
        URL, query_string={"band": "moins_150k", "categories": ["vae"], "kind": "surveillance"}
    ).get_data(as_text=True)
    assert total_of(page) == "1"
    assert "Tous les chiffres utilisés sont confirmés" in page


@pytest.mark.parametrize(
    "overrides",
    [{"base": {"un_million": "1"}}, {"bonus": {}}, {"base": {"moins_150k": "0.3"}}],
)
def test_a_wrong_setting_is_refused(overrides) -> None:
    from portal.certification.rules import table_with_overrides

    with pytest.raises(ValueError, match="AUDIT_DURATIONS"):
        table_with_overrides(overrides)
