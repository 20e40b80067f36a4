"""The public list as the real file comes: a three-day history made with its quirks
(tests/fixtures/make_public_list_history.py), imported through the CLI, and the answers of
`qualiopi check --json` after each day."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import ImportStatus, ListChange, ListImport, ListVersion, QualiopiAlert
from portal.public_list import lookup
from tests.dossiers.piece_helpers import make_dossier
from tests.factories import ProviderFactory, UserFactory
from tests.fixtures.make_public_list_history import (
    BNP,
    DAYS,
    LOSER,
    MOVED,
    MOVED_THERE,
    NIC,
    NIC_SIREN,
    ODD,
    PLUS_LYON,
    PLUS_PARIS,
    QUAI,
    TRAINING_SITE,
    ZERO,
    ZERO_SIREN,
    write_history,
)

D1, D2, D3 = DAYS


def _import(runner, path, on: date, *extra: str):
    return runner.invoke(args=["qualiopi", "import", str(path), "--as-of", on.isoformat(), *extra])


def _check(runner, ident: str, on: date) -> dict:
    result = runner.invoke(args=["qualiopi", "check", ident, "--on", on.isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _answers(runner, ident: str, on: date) -> tuple[str | None, list[tuple]]:
    body = _check(runner, ident, on)
    return body["list_as_of"], [
        (m["nda"], m["certified"], m["categories"]["actions_formation"], m["matched_by"])
        for m in body["matches"]
    ]


# What `qualiopi check --json` answers after each day: identifier → matches, as
# (nda, certified, certified for actions de formation, matched_by).
EVERY_DAY = {
    QUAI.nda: [(QUAI.nda, True, True, "nda")],
    QUAI.siret: [(QUAI.nda, True, True, "siret")],
    # A SIREN and a SIRET read on 8 and 13 digits are found on 9 and 14.
    ZERO_SIREN: [(ZERO.nda, True, True, "siren")],
    "0" + ZERO.siret: [(ZERO.nda, True, True, "siret")],
    # A SIRET column holding only the NIC: completed with the SIREN.
    NIC_SIREN + NIC.siret: [(NIC.nda, True, True, "siret")],
    # A training site of Compétences Plus: through the SIREN, every NDA of the company.
    TRAINING_SITE: [
        (PLUS_PARIS.nda, True, True, "siren"),
        (PLUS_LYON.nda, True, True, "siren"),
    ],
    PLUS_LYON.siret: [(PLUS_LYON.nda, True, True, "siret")],
    # A SIRET of another SIREN, kept as read.
    ODD.siret: [(ODD.nda, True, True, "siret")],
    ODD.siren: [(ODD.nda, True, True, "siren")],
}
AFTER = {
    D1: {
        **EVERY_DAY,
        LOSER.nda: [(LOSER.nda, True, True, "nda")],
        MOVED.nda: [(MOVED.nda, True, True, "nda")],
    },
    D2: {
        **EVERY_DAY,
        LOSER.nda: [(LOSER.nda, True, False, "nda")],  # lost actions de formation, kept VAE
        MOVED.nda: [(MOVED.nda, True, True, "nda")],
    },
    D3: {
        **EVERY_DAY,
        LOSER.nda: [(LOSER.nda, True, False, "nda")],
        MOVED.nda: [(MOVED_THERE.nda, True, True, "previous_nda")],
        MOVED_THERE.nda: [(MOVED_THERE.nda, True, True, "nda")],
    },
}


@pytest.fixture
def history(app, runner, tmp_path):
    return write_history(tmp_path / "listes")


def test_three_days_of_the_real_file(app, runner, history, outbox) -> None:
    controller = UserFactory(role="controller")
    quai = ProviderFactory(nda=QUAI.nda, name="Ateliers du Quai", siret=QUAI.siret)
    loser = ProviderFactory(nda=LOSER.nda, name="Formations Perdues", siret=LOSER.siret)
    make_dossier(controller.funder, quai, reference="QUAI-1", category="actions_formation")
    make_dossier(controller.funder, loser, reference="PERDU-1", category="actions_formation")

    # Day 1, the DGEFP layout.
    result = _import(runner, history["1"], D1)
    assert result.exit_code == 0, result.output
    day1 = _run(D1)
    assert day1.rows_kept == 9 and day1.rejected_lines == []
    assert _messages(day1) == [
        (None, "2 lignes au SIREN ou SIRET complété (zéro initial perdu, ou SIRET réduit "
         "au numéro d'établissement)"),
        (6, f"SIRET {ODD.siret} d'un autre SIREN que celui de la ligne ({ODD.siren}) : "
         "conservé tel que lu"),
    ]  # fmt: skip
    for ident, matches in AFTER[D1].items():
        assert _answers(runner, ident, D1) == (D1.isoformat(), matches), ident

    # Day 2: the Opendatasoft twin's columns, QUAI's line unreadable, LOSER loses a category.
    result = _import(runner, history["2"], D2)
    assert result.exit_code == 0, result.output
    day2 = _run(D2)
    assert day2.status == ImportStatus.SUCCEEDED
    assert day2.notes[0] == {
        "line": None,
        "message": "colonnes ignorées : geocodageban, "
        + ", ".join(f"informationsOpendatasoft.champ{i}" for i in range(1, 13)),
    }
    assert "colonnes ignorées : geocodageban" in day2.message
    kept, unreadable = day2.rejected_lines
    assert kept == {
        "line": 2,
        "nda": QUAI.nda,
        "kept_previous": True,
        "reason": "ligne illisible : état précédent conservé (40 champs au lieu de 43)",
    }
    assert unreadable == {
        "line": 11,
        "reason": 'numéro de déclaration d\'activité illisible : "en cours"',
    }
    assert "(NDA 76310000017) : ligne illisible : état précédent conservé" in result.output
    assert day2.rows_kept == 9 and day2.removed == 0
    assert _changes(day2) == {(LOSER.nda, "category_lost", "actions_formation")}
    # No alert for QUAI: its unreadable line said nothing about it; one for LOSER.
    alerts = db.session.scalars(select(QualiopiAlert)).all()
    assert [(a.nda, a.lost) for a in alerts] == [(LOSER.nda, ["actions_formation"])]
    for ident, matches in AFTER[D2].items():
        assert _answers(runner, ident, D2) == (D2.isoformat(), matches), ident

    # Day 3 cut in the middle of its last row: refused, day 2's list stays in force.
    result = _import(runner, history["3-cut"], D3)
    assert result.exit_code == 1
    assert "Fichier incomplet" in result.output and "ligne 10" in result.output
    assert "La liste en vigueur reste inchangée." in result.output
    assert _run(D3).status == ImportStatus.REFUSED
    assert _answers(runner, MOVED.nda, D3) == (D2.isoformat(), AFTER[D2][MOVED.nda])

    # Day 3 whole: the DGEFP layout again, QUAI readable and unchanged, MOVED moved.
    result = _import(runner, history["3"], D3)
    assert result.exit_code == 0, result.output
    for ident, matches in AFTER[D3].items():
        assert _answers(runner, ident, D3) == (D3.isoformat(), matches), ident
    # The history still answers for the past days.
    for on in (D1, D2):
        for ident, matches in AFTER[on].items():
            assert _answers(runner, ident, on) == (on.isoformat(), matches), (on, ident)
    # QUAI held one version over the three days, with its declared activity.
    (version,) = db.session.scalars(select(ListVersion).where(ListVersion.nda == QUAI.nda))
    assert (version.valid_from, version.valid_to) == (D1, None)
    assert (
        version.date_derniere_declaration,
        version.nb_stagiaires,
        version.nb_stagiaires_confies,
        version.effectif_formateurs,
    ) == (date(2025, 4, 2), 88, 0, 5)
    assert db.session.scalars(select(QualiopiAlert.nda)).all() == [LOSER.nda]


def test_a_cut_download_imports_with_force_its_last_line_unreadable(app, runner, history) -> None:
    assert _import(runner, history["2"], D2).exit_code == 0
    result = _import(runner, history["3-cut"], D3, "--force")
    assert result.exit_code == 0, result.output
    run = _run(D3)
    assert run.rejected_lines == [
        {
            "line": 10,
            "nda": MOVED_THERE.nda,
            "reason": "5 champs au lieu de 30",  # a new NDA: no previous state to keep
        }
    ]
    assert run.rows_kept == 8 and run.removed == 1  # MOVED left, MOVED_THERE not read


def test_the_name_search_ignores_case_accents_spaces_and_punctuation(app, runner, history):
    assert _import(runner, history["1"], D1).exit_code == 0
    for needle in ("bnp paribas", "BNP-Paribas", "bnp  paribas", "Bnp.Paribas formation"):
        found = lookup.search(needle, D1)
        assert [m.nda for m in found] == [BNP.nda], needle
        assert found[0].denomination == "BNP  PARIBAS FORMATION"
    assert [m.nda for m in lookup.search("etablissement reduit", D1)] == [NIC.nda]


def _run(on: date) -> ListImport:
    return db.session.scalars(
        select(ListImport).where(ListImport.as_of == on).order_by(ListImport.id.desc())
    ).first()


def _messages(run: ListImport) -> list[tuple]:
    return [(n["line"], n["message"]) for n in run.notes]


def _changes(run: ListImport) -> set[tuple]:
    return {
        (c.nda, c.kind, c.category)
        for c in db.session.scalars(select(ListChange).where(ListChange.import_id == run.id))
    }


def test_versions_imported_before_the_activity_figures_are_completed_in_place(
    app, runner, history
) -> None:
    """A version from before migration 0010 (no figures, the old digest) that the next list
    gives with nothing else changed gets its figures, without a new version or a change."""
    from portal.public_list.history import fingerprint

    assert _import(runner, history["1"], D1).exit_code == 0
    for version in db.session.scalars(select(ListVersion)):
        version.fingerprint = fingerprint(
            version.siren, version.siret, version.denomination, version.region_code,
            version.postal_code, version.city, version.actions_formation,
            version.bilans_competences, version.vae, version.apprentissage,
            version.previous_ndas,
        )  # fmt: skip
        version.date_derniere_declaration = version.nb_stagiaires = None
        version.nb_stagiaires_confies = version.effectif_formateurs = None
    db.session.commit()
    assert _import(runner, history["2"], D2).exit_code == 0
    run = _run(D2)
    assert (run.changed, run.added, run.removed) == (1, 0, 0)  # LOSER only
    # QUAI's line is unreadable (kept as it was), LOSER has a new version: 7 completed.
    assert (
        None,
        "7 organismes complétés des chiffres d'activité déclarés, que le portail ne "
        "gardait pas encore",
    ) in _messages(run)
    (quai,) = db.session.scalars(select(ListVersion).where(ListVersion.nda == QUAI.nda))
    assert (quai.valid_from, quai.nb_stagiaires, quai.effectif_formateurs) == (D1, None, None)
    (bnp,) = db.session.scalars(select(ListVersion).where(ListVersion.nda == BNP.nda))
    assert (bnp.valid_from, bnp.nb_stagiaires, bnp.date_derniere_declaration) == (
        D1,
        120,
        date(2025, 3, 15),
    )


def test_the_pages_say_how_an_of_was_found_and_show_its_activity(
    app, runner, history, client, login_as
) -> None:
    from portal.models import Role

    assert _import(runner, history["1"], D1).exit_code == 0
    assert _import(runner, history["2"], D2).exit_code == 0
    login_as(Role.FUNDER_ADMIN)
    page = client.get(f"/qualiopi/?q={TRAINING_SITE}&on={D2}").get_data(as_text=True)
    assert page.count("Établissement non déclarant : le SIRET") == 2
    assert "Compétences Plus Lyon" in page and f"NDA {PLUS_PARIS.nda}" in page
    declaring = client.get(f"/qualiopi/?q={PLUS_LYON.siret}&on={D2}").get_data(as_text=True)
    assert "non déclarant" not in declaring
    provider = client.get(f"/qualiopi/organismes/{QUAI.nda}").get_data(as_text=True)
    assert "Activité déclarée" in provider
    assert "<dt>Dernière déclaration</dt><dd>02/04/2025</dd>" in provider
    assert "<dt>Stagiaires</dt><dd>88</dd>" in provider
    assert "<dt>Formateurs</dt><dd>5</dd>" in provider
    run = _run(D2)
    detail = client.get(f"/qualiopi/imports/{run.id}").get_data(as_text=True)
    assert "colonnes ignorées : geocodageban" in detail
    assert f">{QUAI.nda}</a>) : ligne illisible : état précédent conservé" in detail
