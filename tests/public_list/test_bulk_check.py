"""The bulk check through the web client: upload, results page, downloads, access."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import event, func, select

from portal.extensions import db
from portal.models import AuditEvent, BulkCheck, Role
from portal.public_list.bulk_checks import COLUMNS
from portal.public_list.importer import import_list
from tests.support.queries import QueryCounter

SAMPLE = Path(__file__).parent.parent / "fixtures" / "public_list_sample.csv"
LIST_DATE = date(2026, 3, 1)
PAGE = "/qualiopi/verification-groupee"

GARONNE_SIRET = "81234567600017"  # certified: actions de formation only
CARAIBES_NDA = "01971234567"  # certified: actions de formation and VAE
PLUS_SIREN = "300123452"  # two NDAs (Paris and Lyon)
DUPONT_NDA = "24451234567"  # in the list, not certified
ABSENT_SIREN = "732829320"  # valid, but not in the list
BAD_SIRET = "81234567600018"

UPLOAD = (
    "\ufeffsiret;date\r\n"
    f"{GARONNE_SIRET};15/03/2026\r\n"  # line 2
    f"{CARAIBES_NDA};\r\n"  # line 3: the default date
    f"{BAD_SIRET};\r\n"  # line 4: unreadable
    f"{PLUS_SIREN};2026-03-20\r\n"  # line 5
    f"{DUPONT_NDA};\r\n"  # line 6
    f"{ABSENT_SIREN};\r\n"  # line 7
    f"{GARONNE_SIRET};01/01/2026\r\n"  # line 8: before any list
)


@pytest.fixture
def public_list(app) -> None:
    import_list(str(SAMPLE), as_of=LIST_DATE, triggered_by="test")


def upload(auth, data: bytes, filename: str = "organismes.csv", on: str = "2026-03-10"):
    return auth.post(
        PAGE,
        {"file": (io.BytesIO(data), filename), "on": on},
        token_from=PAGE,
        content_type="multipart/form-data",
    )


def make_check(auth, data: bytes = UPLOAD.encode(), **kwargs) -> int:
    response = upload(auth, data, **kwargs)
    assert response.status_code == 303, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert location.startswith(PAGE + "/")
    return int(location.rsplit("/", 1)[1])


def test_the_form_page_is_labelled_and_posts_a_file(client, login_as) -> None:
    login_as(Role.CONTROLLER)
    page = client.get(PAGE).get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page
    assert 'method="post"' in page
    assert '<label for="file">' in page and 'type="file"' in page
    assert '<label for="on">Date par défaut</label>' in page
    assert 'name="csrf_token"' in page
    assert "aucune vérification groupée" in page


def test_upload_then_results_page(client, auth, login_as, public_list) -> None:
    user = login_as(Role.CONTROLLER)
    check_id = make_check(auth)

    check = db.session.get(BulkCheck, check_id)
    assert check.user_id == user.id
    assert check.filename == "organismes.csv"
    by_line = {r["line"]: r for r in check.results}
    assert sorted(by_line) == [2, 3, 5, 6, 7, 8]
    assert by_line[2]["query"] == GARONNE_SIRET
    assert by_line[2]["on"] == "2026-03-15"
    assert by_line[2]["list_as_of"] == "2026-03-01"
    assert [m["denomination"] for m in by_line[2]["matches"]] == ["Atelier Formation Garonne"]
    assert by_line[3]["on"] == "2026-03-10"  # the form's default date
    assert by_line[3]["matches"][0]["categories"] == {
        "actions_formation": True,
        "bilans_competences": False,
        "vae": True,
        "apprentissage": False,
    }
    assert sorted(m["nda"] for m in by_line[5]["matches"]) == ["11755432101", "84691234560"]
    assert by_line[6]["matches"][0]["certified"] is False
    assert by_line[7]["matches"] == []
    assert by_line[8]["list_as_of"] is None and by_line[8]["matches"] == []
    assert check.unreadable == [
        {
            "line": 4,
            "value": BAD_SIRET,
            "reason": f"Le SIRET {BAD_SIRET} est invalide : la clé de contrôle ne correspond pas.",
        }
    ]

    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "qualiopi.bulk_check")
    ).one()
    assert event.actor_id == user.id
    assert event.object_id == str(check_id)
    assert event.details["lines"] == 6
    assert event.details["unreadable"] == 1
    assert event.details["certifie"] == 3  # lines 2, 3 and 5
    assert event.details["non_certifie"] == 1
    assert event.details["absent"] == 1
    assert event.details["sans_liste"] == 1

    page = client.get(f"{PAGE}/{check_id}").get_data(as_text=True)
    assert "<caption>" in page and '<th scope="col">Identifiant</th>' in page
    assert "Atelier Formation Garonne" in page
    assert "Caraïbes Compétences Formation" in page
    assert "Jean Dupont Conseil" in page
    assert page.count("Compétences Plus") >= 2
    assert "Certifié" in page and "Non certifié" in page
    assert "absent de la liste" in page
    assert "aucune liste publique importée à cette date" in page
    assert "15/03/2026" in page and "01/03/2026" in page
    # The unreadable line, with its number and reason.
    assert "Lignes illisibles (1)" in page
    assert f'<th scope="row">4</th><td>{BAD_SIRET}</td>' in page
    assert "la clé de contrôle ne correspond pas" in page
    assert f'href="{PAGE}/{check_id}.csv"' in page
    assert f'href="{PAGE}/{check_id}.xlsx"' in page

    # The form page lists it among the user's last checks.
    form_page = client.get(PAGE).get_data(as_text=True)
    assert f'href="{PAGE}/{check_id}"' in form_page
    assert "organismes.csv" in form_page


def test_results_can_be_filtered_by_status(client, auth, login_as, public_list) -> None:
    login_as(Role.CONTROLLER)
    check_id = make_check(auth)
    page = client.get(f"{PAGE}/{check_id}?statut=absent").get_data(as_text=True)
    assert ABSENT_SIREN in page
    assert "Atelier Formation Garonne" not in page


EXPECTED_ROWS = [
    # ligne, identifiant, date, liste_du, nda, siren, siret, denomination, region,
    # certifie, actions_formation, bilans_competences, vae, apprentissage, trouve_par
    ["2", GARONNE_SIRET, "15/03/2026", "01/03/2026", "76311234567", "812345676",
     GARONNE_SIRET, "Atelier Formation Garonne", "76", "oui", "oui", "non", "non", "non",
     "siret"],
    ["3", CARAIBES_NDA, "10/03/2026", "01/03/2026", CARAIBES_NDA, "901234567",
     "90123456700013", "Caraïbes Compétences Formation", "01", "oui", "oui", "non", "oui",
     "non", "nda"],
    ["5", PLUS_SIREN, "20/03/2026", "01/03/2026", "11755432101", PLUS_SIREN,
     "30012345200017", "Compétences Plus", "11", "oui", "oui", "non", "non", "oui", "siren"],
    ["5", PLUS_SIREN, "20/03/2026", "01/03/2026", "84691234560", PLUS_SIREN,
     "30012345200025", "Compétences Plus", "84", "oui", "oui", "non", "non", "non", "siren"],
    ["6", DUPONT_NDA, "10/03/2026", "01/03/2026", DUPONT_NDA, "845123470",
     "84512347000013", "Jean Dupont Conseil", "24", "non", "non", "non", "non", "non", "nda"],
    ["7", ABSENT_SIREN, "10/03/2026", "01/03/2026", *[""] * 11],
    ["8", GARONNE_SIRET, "01/01/2026", "", *[""] * 11],
]  # fmt: skip


def test_csv_download(client, auth, login_as, public_list) -> None:
    login_as(Role.CONTROLLER)
    check_id = make_check(auth)
    response = client.get(f"{PAGE}/{check_id}.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")  # a BOM for Excel
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == list(COLUMNS)
    assert rows[0] == [
        "ligne", "identifiant", "date", "liste_du", "nda", "siren", "siret", "denomination",
        "region", "certifie", "actions_formation", "bilans_competences", "vae", "apprentissage",
        "trouve_par",
    ]  # fmt: skip
    assert rows[1:] == EXPECTED_ROWS


def test_xlsx_download(client, auth, login_as, public_list) -> None:
    login_as(Role.CONTROLLER)
    check_id = make_check(auth)
    response = client.get(f"{PAGE}/{check_id}.xlsx")
    assert response.status_code == 200
    assert response.mimetype == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    sheet = load_workbook(io.BytesIO(response.data), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == list(COLUMNS)

    def as_text(value) -> str:
        if value is None:
            return ""
        if hasattr(value, "strftime"):
            return value.strftime("%d/%m/%Y")
        return str(value)

    # Empty trailing cells are not written: pad the rows read back.
    padded = [[*row, *[None] * (len(COLUMNS) - len(row))] for row in rows[1:]]
    assert [[as_text(v) for v in row] for row in padded] == EXPECTED_ROWS
    # Identifiers stay text (leading zeros kept), line numbers and dates are typed.
    caraibes = rows[2]
    assert caraibes[0] == 3 and caraibes[4] == CARAIBES_NDA
    assert caraibes[2].date() == date(2026, 3, 10)


def test_a_workbook_can_be_uploaded(client, auth, login_as, public_list) -> None:
    login_as(Role.FUNDER_ADMIN)
    workbook = Workbook()
    workbook.active.append(["NDA"])
    workbook.active.append([1971234567])  # lost its leading zero
    out = io.BytesIO()
    workbook.save(out)
    check_id = make_check(auth, out.getvalue(), filename="liste.xlsx")
    check = db.session.get(BulkCheck, check_id)
    (result,) = check.results
    assert result["matches"][0]["nda"] == CARAIBES_NDA


def test_another_user_gets_404_and_it_is_audited(client, auth, login_as, public_list) -> None:
    login_as(Role.CONTROLLER)
    check_id = make_check(auth)
    auth.logout()
    other = login_as(Role.CONTROLLER)
    for suffix in ("", ".csv", ".xlsx"):
        assert client.get(f"{PAGE}/{check_id}{suffix}").status_code == 404
    denied = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "access.denied", AuditEvent.actor_id == other.id
        )
    ).all()
    assert len(denied) == 3
    assert denied[0].details["check_id"] == check_id
    assert f'href="{PAGE}/{check_id}"' not in client.get(PAGE).get_data(as_text=True)
    assert client.get(f"{PAGE}/{check_id + 1000}").status_code == 404


def test_roles_outside_the_section_are_refused(client, login_as) -> None:
    login_as(Role.PROVIDER)
    assert client.get(PAGE).status_code == 403


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "liste.csv", "est un document PDF"),
        (b"", "vide.csv", "est vide"),
        (f"siret\n{BAD_SIRET}\n".encode(), "faux.csv", "Aucun identifiant lisible"),
    ],
)
def test_a_refused_file_stores_nothing(
    client, auth, login_as, public_list, data: bytes, filename: str, message: str
) -> None:
    login_as(Role.CONTROLLER)
    response = upload(auth, data, filename=filename)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="file-erreur" class="field-error">' in page
    assert message in page
    assert 'aria-invalid="true"' in page
    assert db.session.scalar(select(func.count()).select_from(BulkCheck)) == 0
    assert not db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "qualiopi.bulk_check")
    ).all()


def test_a_missing_file_is_reported(client, auth, login_as) -> None:
    login_as(Role.CONTROLLER)
    response = auth.post(PAGE, {"on": "2026-03-10"}, token_from=PAGE)
    assert response.status_code == 200
    assert "Choisissez un fichier CSV ou XLSX." in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(BulkCheck)) == 0


def test_post_without_csrf_token_is_refused(client, login_as) -> None:
    login_as(Role.CONTROLLER)
    response = client.post(
        PAGE,
        data={"file": (io.BytesIO(f"{GARONNE_SIRET}\n".encode()), "a.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(BulkCheck)) == 0


@contextmanager
def serving_queries(app) -> Iterator[QueryCounter]:
    """Count the statements run by the application that serves the client's requests.

    (The `count_queries` fixture listens to the engine of the test body's twin application,
    which the requests do not use.)
    """
    with app.app_context():
        engine = db.engine
    counter = QueryCounter()
    event.listen(engine, "before_cursor_execute", counter)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", counter)


def test_results_page_queries_do_not_grow_with_lines(
    app, client, auth, login_as, public_list
) -> None:
    login_as(Role.CONTROLLER)
    small = make_check(auth, f"{GARONNE_SIRET}\n".encode())
    many = "\n".join([GARONNE_SIRET, CARAIBES_NDA, PLUS_SIREN, ABSENT_SIREN] * 150)
    large = make_check(auth, many.encode())
    counts = []
    for check_id in (small, large):
        for suffix in ("", ".csv", ".xlsx"):
            with serving_queries(app) as counter:
                assert client.get(f"{PAGE}/{check_id}{suffix}").status_code == 200
            counts.append(counter.count)
    assert counts[:3] == counts[3:]
    assert 0 < max(counts) <= 5, counts


def test_upload_queries_do_not_grow_with_lines(app, client, auth, login_as, public_list) -> None:
    login_as(Role.CONTROLLER)
    idents = [GARONNE_SIRET, CARAIBES_NDA, PLUS_SIREN, DUPONT_NDA]
    counts = []
    for lines in (4, 400):
        # Each line on its own date: lines are checked on the date of the list in force.
        body = "\n".join(
            f"{idents[n % 4]};{date.fromordinal(LIST_DATE.toordinal() + n):%d/%m/%Y}"
            for n in range(lines)
        )
        with serving_queries(app) as counter:
            make_check(auth, body.encode())
        counts.append(counter.count)
    assert 0 < counts[0] == counts[1], counts


def test_a_date_between_two_lists_gets_the_older_list(
    client, auth, login_as, public_list, tmp_path
) -> None:
    later = tmp_path / "later.csv"
    text = SAMPLE.read_text(encoding="utf-8-sig").replace(
        "76311234567;;Atelier Formation Garonne;812345676;81234567600017;12 allée Jean Jaurès;"
        "31000;Toulouse;76;true",
        "76311234567;;Atelier Formation Garonne;812345676;81234567600017;12 allée Jean Jaurès;"
        "31000;Toulouse;76;false",
    )
    later.write_text(text, encoding="utf-8")
    import_list(str(later), as_of=date(2026, 4, 1), triggered_by="test")
    login_as(Role.CONTROLLER)
    body = f"{GARONNE_SIRET};31/03/2026\n{GARONNE_SIRET};01/04/2026\n{GARONNE_SIRET};02/05/2026\n"
    check = db.session.get(BulkCheck, make_check(auth, body.encode()))
    assert [(r["list_as_of"], r["matches"][0]["certified"]) for r in check.results] == [
        ("2026-03-01", True),
        ("2026-04-01", False),
        ("2026-04-01", False),
    ]


def test_a_training_site_siret_answers_through_its_siren_in_the_bulk_check(
    client, auth, login_as, public_list
) -> None:
    # 30012345200033: an establishment of Compétences Plus that is not in the list;
    # 75330000002: a previous NDA of Formations du Littoral.
    login_as(Role.CONTROLLER)
    check_id = make_check(auth, b"identifiant\n30012345200033\n75330000002\n30012345200025\n")
    check = db.session.get(BulkCheck, check_id)
    assert [[(m["nda"], m["matched_by"]) for m in r["matches"]] for r in check.results] == [
        [("11755432101", "siren"), ("84691234560", "siren")],
        [("75331234567", "previous_nda")],
        [("84691234560", "siret")],
    ]
    page = client.get(f"{PAGE}/{check_id}").get_data(as_text=True)
    assert page.count("établissement non déclarant") == 2
    assert "comme ancien NDA de l&#39;organisme" in page
    rows = list(
        csv.reader(
            io.StringIO(client.get(f"{PAGE}/{check_id}.csv").data.decode("utf-8-sig")),
            delimiter=";",
        )
    )
    assert [(row[4], row[-1]) for row in rows[1:]] == [
        ("11755432101", "siren"),
        ("84691234560", "siren"),
        ("75331234567", "previous_nda"),
        ("84691234560", "siret"),
    ]
