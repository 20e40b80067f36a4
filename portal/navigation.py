"""The portal's sections: who reaches each one, and what the menu shows them."""

from __future__ import annotations

from dataclasses import dataclass, field

from portal.models import Role, User


@dataclass(frozen=True)
class Section:
    key: str
    endpoint: str
    label: str
    roles: frozenset[Role]
    description: str
    labels_by_role: dict[Role, str] = field(default_factory=dict)

    def label_for(self, role: Role) -> str:
        return self.labels_by_role.get(role, self.label)


SECTIONS: tuple[Section, ...] = (
    Section(
        "dossiers",
        "dossiers.index",
        "Dossiers",
        frozenset({Role.FUNDER_ADMIN, Role.CONTROLLER, Role.PROVIDER}),
        "Les prises en charge, leurs pièces justificatives et ce qui reste attendu.",
        {Role.PROVIDER: "Mes dossiers"},
    ),
    Section(
        "service_fait",
        "service_fait.index",
        "Service fait",
        frozenset({Role.FUNDER_ADMIN, Role.CONTROLLER}),
        "Les contrôles de service fait : vérifications croisées, demandes de pièces, décisions.",
    ),
    Section(
        "public_list",
        "public_list.index",
        "Vérifier Qualiopi",
        frozenset({Role.ADMIN, Role.FUNDER_ADMIN, Role.CONTROLLER, Role.MINISTRY}),
        "La certification Qualiopi d'un organisme, aujourd'hui ou à une date donnée.",
    ),
    Section(
        "subcontracting",
        "subcontracting.index",
        "Sous-traitance",
        frozenset({Role.FUNDER_ADMIN, Role.CONTROLLER, Role.PROVIDER}),
        "Les contrats de sous-traitance et le plafond de 80 % du CPF.",
        {Role.PROVIDER: "Ma sous-traitance"},
    ),
    Section(
        "quality",
        "quality.index",
        "Contrôles qualité",
        frozenset({Role.FUNDER_ADMIN, Role.CONTROLLER, Role.PROVIDER}),
        "Les contrôles de la qualité effective au regard du RNQ et leurs actions correctives.",
        {Role.PROVIDER: "Mes contrôles qualité"},
    ),
    Section(
        "certification",
        "certification.index",
        "Certification",
        frozenset({Role.FUNDER_ADMIN, Role.CONTROLLER, Role.PROVIDER}),
        "Les certificats Qualiopi, leurs audits et leurs échéances ; la durée d'un audit.",
        {Role.PROVIDER: "Ma certification"},
    ),
    Section(
        "signalements",
        "signalements.index",
        "Signalements",
        frozenset({Role.FUNDER_ADMIN, Role.CONTROLLER, Role.MINISTRY}),
        "Les signalements étayés sur la qualité des formations, et leur suivi.",
    ),
    Section(
        "admin",
        "admin.index",
        "Administration",
        frozenset({Role.ADMIN, Role.FUNDER_ADMIN}),
        "Les financeurs, les comptes, les invitations et le journal d'audit.",
    ),
)

_BY_KEY = {section.key: section for section in SECTIONS}


def section(key: str) -> Section:
    return _BY_KEY[key]


@dataclass(frozen=True)
class MenuItem:
    endpoint: str
    label: str
    description: str


def menu_for(user: User) -> list[MenuItem]:
    """The sections this user reaches, in menu order, labelled for their role."""
    role = Role(user.role)
    return [
        MenuItem(s.endpoint, s.label_for(role), s.description) for s in SECTIONS if role in s.roles
    ]
