"""Templates decide nothing: no template compares a role or a state to its literal value.

A page receives `can_*` booleans (portal/access.py) and flags computed by the rules
(`dossier.is_open`, `control.is_planned`, `nc_state(finding).kept`…); a template may test
them, never `current_user.role == 'funder_admin'` nor `status == 'clos'`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from portal.certification.rules import DeadlineState
from portal.dossiers.calendar import SlotStatus
from portal.models import Role
from portal.models.dossiers import DossierStatus
from portal.models.quality import QualityControlStatus
from portal.models.service_fait import ControlStatus, RequestStatus
from portal.models.signalements import Outcome, SignalementState
from portal.quality.rules import Finding, NcStatus

ROOT = Path(__file__).resolve().parent.parent / "portal"
TEMPLATES = sorted(
    path
    for path in ROOT.rglob("*")
    if path.suffix in (".html", ".txt") and "templates" in path.parts
)

ROLES = sorted(role.value for role in Role)
STATES = sorted(
    {
        member.value
        for enum in (
            DossierStatus,
            SlotStatus,
            ControlStatus,
            RequestStatus,
            QualityControlStatus,
            NcStatus,
            Finding,
            SignalementState,
            Outcome,
            DeadlineState,
        )
        for member in enum
    }
)


def _literal(values: list[str]) -> str:
    return r"""['"](?:""" + "|".join(map(re.escape, values)) + r""")['"]"""


ROLE, STATE = _literal(ROLES), _literal(STATES)
FORBIDDEN = {
    "a role compared": re.compile(r"\brole\s*(?:==|!=|\bin\b|\bnot\s+in\b)"),
    "the Role enum": re.compile(r"\bRole\."),
    "a role literal compared": re.compile(rf"(?:==|!=)\s*{ROLE}|{ROLE}\s*(?:==|!=|\bin\b)"),
    "a role literal in a tuple": re.compile(rf"\bin\s*[(\[][^)\]]*{ROLE}"),
    "a role literal passed": re.compile(rf"\brole\s*=\s*{ROLE}"),
    "a state literal compared": re.compile(rf"(?:==|!=)\s*{STATE}|{STATE}\s*(?:==|!=)"),
    "a state literal in a tuple": re.compile(rf"\bin\s*[(\[][^)\]]*{STATE}"),
}


def _offences(text: str) -> list[str]:
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for what, pattern in FORBIDDEN.items():
            if pattern.search(line):
                found.append(f"line {number}: {what}: {line.strip()[:120]}")
    return found


def test_there_are_templates() -> None:
    assert len(TEMPLATES) > 50


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_template_compares_a_role_or_a_state_to_a_literal(path: Path) -> None:
    assert _offences(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "line",
    [
        "{% if current_user.role == 'funder_admin' %}",
        "{% if current_user.role in ('admin', 'funder_admin') %}",
        "{% if 'provider' in form.role.choices|map('first') %}",
        "{{ url_for('admin.invite', role='funder_admin') }}",
        "{% if d.status != 'en_cours' %}",
        "{% if s.state not in ('brouillon', 'a_approuver') %}",
        "{% if finding.nc_status == 'maintenue' %}",
        "{% if Role.ADMIN %}",
    ],
)
def test_the_guard_catches(line: str) -> None:
    assert _offences(line)


@pytest.mark.parametrize(
    "line",
    [
        "{% if can_manage_providers %}",
        "{% if not d.is_open %}",
        '<select id="provider" name="provider">',
        '<a href="#" role="button">',
        "{% if filters.status == value %} selected{% endif %}",
    ],
)
def test_the_guard_lets_pass(line: str) -> None:
    assert _offences(line) == []
