"""The référentiel national qualité (RNQ, Qualiopi): its 7 criteria and 32 indicators.

Reference data, no database: the titles are regulatory text (décret n° 2019-564 du 6 juin
2019 and its annex, the RNQ), stored word for word as the decree and its annex read
(the AFNOR FAQ on the référentiel, and Transitions Pro Occitanie's "En route vers
Qualiopi"), with "œuvre" spelt as in the décret. Each indicator also carries the short name
the AFNOR FAQ gives it ("information au public", …), for lists.

Also here: the indicators whose breach can only be a major non-conformity (décret n°
2019-565; AFNOR FAQ), and those that only apply in some cases (certifying actions,
apprenticeship, AFEST, subcontracting, actions longer than 2 days: guide de lecture V8).
Used by the signalements and by the quality controls.

Also the kinds of action each conditional indicator depends on (:class:`ActionProfile`,
:func:`applicable`), and Certif'Région's extension (its criterion 8 and 12 lettered
indicators, for funders that require that regional label), each with its source and version.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

CRITERIA_COUNT = 7
INDICATORS_COUNT = 32

#: Where the reference data comes from, shown with the grids and in the reports.
SOURCE = (
    "Référentiel national qualité : décret n° 2019-564 du 6 juin 2019 (annexe), "
    "décret n° 2019-565 (non-conformités) ; guide de lecture V8 (applicabilité)"
)
VERSION = "RNQ — décret n° 2019-564, guide de lecture V8"


@dataclass(frozen=True)
class Criterion:
    number: int
    title: str
    indicators: tuple[int, ...]


@dataclass(frozen=True)
class Indicator:
    number: int
    criterion: int
    name: str  # the short name (AFNOR FAQ)
    title: str  # the regulatory text
    major_only: bool
    applicability: str | None  # None: applies to every provider

    @property
    def label(self) -> str:
        """« Indicateur 4 — analyse du besoin »."""
        return f"Indicateur {self.number} — {self.name}"


CRITERIA: tuple[Criterion, ...] = (
    Criterion(
        1,
        "Les conditions d'information du public sur les prestations proposées, les délais "
        "pour y accéder et les résultats obtenus",
        (1, 2, 3),
    ),
    Criterion(
        2,
        "L'identification précise des objectifs des prestations proposées et l'adaptation "
        "de ces prestations aux publics bénéficiaires lors de la conception des prestations",
        (4, 5, 6, 7, 8),
    ),
    Criterion(
        3,
        "L'adaptation aux publics bénéficiaires des prestations et des modalités d'accueil, "
        "d'accompagnement, de suivi et d'évaluation mises en œuvre",
        (9, 10, 11, 12, 13, 14, 15, 16),
    ),
    Criterion(
        4,
        "L'adéquation des moyens pédagogiques, techniques et d'encadrement aux prestations "
        "mises en œuvre",
        (17, 18, 19, 20),
    ),
    Criterion(
        5,
        "La qualification et le développement des connaissances et compétences des "
        "personnels chargés de mettre en œuvre les prestations",
        (21, 22),
    ),
    Criterion(
        6,
        "L'inscription et l'investissement du prestataire dans son environnement professionnel",
        (23, 24, 25, 26, 27, 28, 29),
    ),
    Criterion(
        7,
        "Le recueil et la prise en compte des appréciations et des réclamations formulées "
        "par les parties prenantes aux prestations délivrées",
        (30, 31, 32),
    ),
)

#: Indicators whose breach can only give a major non-conformity (décret n° 2019-565).
MAJOR_ONLY: frozenset[int] = frozenset(
    {4, 5, 6, 7, 10, 11, 14, 15, 16, 20, 21, 22, 26, 27, 29, 31, 32}
)

CERTIFYING = "Uniquement pour les prestations conduisant à une certification professionnelle."
APPRENTICESHIP = "Uniquement pour les actions de formation par apprentissage."
AFEST = "Uniquement pour les formations comprenant des périodes en situation de travail (AFEST)."
SUBCONTRACTING = (
    "Uniquement si le prestataire fait appel à la sous-traitance ou au portage salarial."
)
LONGER_THAN_TWO_DAYS = "Non applicable aux prestations de 2 jours ou moins (guide de lecture V8)."

#: Indicators that only apply in some cases, with the case.
APPLICABILITY: dict[int, str] = {
    3: CERTIFYING,
    7: CERTIFYING,
    16: CERTIFYING,
    12: LONGER_THAN_TWO_DAYS,
    13: APPRENTICESHIP,
    14: APPRENTICESHIP,
    15: APPRENTICESHIP,
    20: APPRENTICESHIP,
    29: APPRENTICESHIP,
    27: SUBCONTRACTING,
    28: AFEST,
}

# (number, short name, regulatory text)
_INDICATORS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "information au public",
        "Le prestataire diffuse une information accessible au public, détaillée et "
        "vérifiable sur les prestations proposées : prérequis, objectifs, durée, modalités et "
        "délais d'accès, tarifs, contacts, méthodes mobilisées et modalités d'évaluation, "
        "accessibilité aux personnes handicapées.",
    ),
    (
        2,
        "indicateurs de résultats",
        "Le prestataire diffuse des indicateurs de résultats adaptés à la nature des "
        "prestations mises en œuvre et des publics accueillis.",
    ),
    (
        3,
        "taux d'obtention des certifications",
        "Le prestataire informe sur les taux d'obtention des certifications préparées, les "
        "possibilités de valider un ou des blocs de compétences, ainsi que sur les "
        "équivalences, passerelles, suites de parcours et les débouchés.",
    ),
    (
        4,
        "analyse du besoin",
        "Le prestataire analyse le besoin du bénéficiaire en lien avec l'entreprise et/ou le "
        "financeur concerné(s).",
    ),
    (
        5,
        "objectifs de la prestation",
        "Le prestataire définit les objectifs opérationnels et évaluables de la prestation.",
    ),
    (
        6,
        "contenus et modalités",
        "Le prestataire établit les contenus et les modalités de mise en œuvre de la "
        "prestation, adaptés aux objectifs définis et aux publics bénéficiaires.",
    ),
    (
        7,
        "contenus et exigences",
        "Lorsque le prestataire met en œuvre des prestations conduisant à une certification "
        "professionnelle, il s'assure de l'adéquation du ou des contenus de la prestation aux "
        "exigences de la certification visée.",
    ),
    (
        8,
        "positionnement à l'entrée",
        "Le prestataire détermine les procédures de positionnement et d'évaluation des acquis "
        "à l'entrée de la prestation.",
    ),
    (
        9,
        "conditions de déroulement",
        "Le prestataire informe les publics bénéficiaires des conditions de déroulement "
        "de la prestation.",
    ),
    (
        10,
        "adaptation de la prestation",
        "Le prestataire met en œuvre et adapte la prestation, l'accompagnement et le suivi "
        "aux publics bénéficiaires.",
    ),
    (
        11,
        "atteinte des objectifs",
        "Le prestataire évalue l'atteinte par les publics bénéficiaires des objectifs de la "
        "prestation.",
    ),
    (
        12,
        "engagement des bénéficiaires",
        "Le prestataire décrit et met en œuvre les mesures pour favoriser l'engagement des "
        "bénéficiaires et prévenir les ruptures de parcours.",
    ),
    (
        13,
        "coordination des apprentis",
        "Pour les formations en alternance, le prestataire, en lien avec l'entreprise, "
        "anticipe avec l'apprenant les missions confiées, à court, moyen et long terme, et "
        "assure la coordination et la progressivité des apprentissages réalisés en centre de "
        "formation et en entreprise.",
    ),
    (
        14,
        "exercice de la citoyenneté",
        "Le prestataire met en œuvre un accompagnement socio-professionnel, éducatif et "
        "relatif à l'exercice de la citoyenneté.",
    ),
    (
        15,
        "droits et devoirs de l'apprenti",
        "Le prestataire informe les apprentis de leurs droits et devoirs en tant qu'apprentis "
        "et salariés ainsi que des règles applicables en matière de santé et de sécurité en "
        "milieu professionnel.",
    ),
    (
        16,
        "présentation à la certification",
        "Lorsque le prestataire met en œuvre des formations conduisant à une certification "
        "professionnelle, il s'assure que les conditions de présentation des bénéficiaires à "
        "la certification respectent les exigences formelles de l'autorité de certification.",
    ),
    (
        17,
        "moyens humains et techniques",
        "Le prestataire met à disposition ou s'assure de la mise à disposition des moyens "
        "humains et techniques adaptés et d'un environnement approprié (conditions, locaux, "
        "équipements, plateaux techniques...).",
    ),
    (
        18,
        "coordination des acteurs",
        "Le prestataire mobilise et coordonne les différents intervenants internes et/ou "
        "externes (pédagogiques, administratifs, logistiques, commerciaux...).",
    ),
    (
        19,
        "ressources pédagogiques",
        "Le prestataire met à disposition du bénéficiaire des ressources pédagogiques et "
        "permet à celui-ci de se les approprier.",
    ),
    (
        20,
        "personnels dédiés",
        "Le prestataire dispose d'un personnel dédié à l'appui à la mobilité nationale et "
        "internationale, d'un référent handicap et d'un conseil de perfectionnement.",
    ),
    (
        21,
        "compétences des acteurs",
        "Le prestataire détermine, mobilise et évalue les compétences des différents "
        "intervenants internes et/ou externes, adaptées aux prestations.",
    ),
    (
        22,
        "gestion de la compétence",
        "Le prestataire entretient et développe les compétences de ses salariés, adaptées aux "
        "prestations qu'il délivre.",
    ),
    (
        23,
        "veille légale et réglementaire",
        "Le prestataire réalise une veille légale et réglementaire sur le champ de la "
        "formation professionnelle et en exploite les enseignements.",
    ),
    (
        24,
        "veille des emplois et métiers",
        "Le prestataire réalise une veille sur les évolutions des compétences, des métiers et "
        "des emplois dans ses secteurs d'intervention et en exploite les enseignements.",
    ),
    (
        25,
        "veille pédagogique et technologique",
        "Le prestataire réalise une veille sur les innovations pédagogiques et technologiques "
        "permettant une évolution de ses prestations et en exploite les enseignements.",
    ),
    (
        26,
        "situation de handicap",
        "Le prestataire mobilise les expertises, outils et réseaux nécessaires pour "
        "accueillir, accompagner/former ou orienter les publics en situation de handicap.",
    ),
    (
        27,
        "disposition sous-traitance",
        "Lorsque le prestataire fait appel à la sous-traitance ou au portage salarial, il "
        "s'assure du respect de la conformité au présent référentiel.",
    ),
    (
        28,
        "formation en situation de travail",
        "Lorsque les prestations dispensées au bénéficiaire comprennent des périodes de "
        "formation en situation de travail, le prestataire mobilise son réseau de partenaires "
        "socio-économiques pour coconstruire l'ingénierie de formation et favoriser l'accueil "
        "en entreprise.",
    ),
    (
        29,
        "insertion professionnelle",
        "Le prestataire développe des actions qui concourent à l'insertion professionnelle ou "
        "la poursuite d'étude par la voie de l'apprentissage ou par toute autre voie "
        "permettant de développer leurs connaissances et leurs compétences.",
    ),
    (
        30,
        "recueil des appréciations",
        "Le prestataire recueille les appréciations des parties prenantes : bénéficiaires, "
        "financeurs, équipes pédagogiques et entreprises concernées.",
    ),
    (
        31,
        "traitement des réclamations",
        "Le prestataire met en œuvre des modalités de traitement des difficultés rencontrées "
        "par les parties prenantes, des réclamations exprimées par ces dernières, des aléas "
        "survenus en cours de prestation.",
    ),
    (
        32,
        "amélioration continue",
        "Le prestataire met en œuvre des mesures d'amélioration à partir de l'analyse des "
        "appréciations et des réclamations.",
    ),
)

_CRITERION_OF = {number: c.number for c in CRITERIA for number in c.indicators}

INDICATORS: dict[int, Indicator] = {
    number: Indicator(
        number=number,
        criterion=_CRITERION_OF[number],
        name=name,
        title=title,
        major_only=number in MAJOR_ONLY,
        applicability=APPLICABILITY.get(number),
    )
    for number, name, title in _INDICATORS
}

_CRITERIA_BY_NUMBER = {c.number: c for c in CRITERIA}


def criterion(number: int) -> Criterion:
    """The criterion numbered 1 to 7 (KeyError otherwise)."""
    return _CRITERIA_BY_NUMBER[number]


def indicator(number: int) -> Indicator:
    """The indicator numbered 1 to 32 (KeyError otherwise)."""
    return INDICATORS[number]


def is_major_only(number: int) -> bool:
    return number in MAJOR_ONLY


def criterion_of(number: int) -> Criterion:
    return _CRITERIA_BY_NUMBER[INDICATORS[number].criterion]


def grouped() -> list[tuple[Criterion, list[Indicator]]]:
    """The 32 indicators grouped by their 7 criteria, in order (for forms and summaries)."""
    return [(c, [INDICATORS[n] for n in c.indicators]) for c in CRITERIA]


class InvalidIndicator(ValueError):
    """A value that is not an indicator number; the message is French."""


def parse_indicators(values: Iterable[object]) -> list[int]:
    """Indicator numbers from form values ("4", 4, " 12 "), sorted, without duplicates;
    raises `InvalidIndicator` on anything that is not 1 to 32."""
    numbers: set[int] = set()
    for value in values:
        text = str(value).strip()
        if not text:
            continue
        if not text.isdigit() or int(text) not in INDICATORS:
            raise InvalidIndicator(
                f"« {text} » n'est pas un indicateur du référentiel national qualité "
                f"(1 à {INDICATORS_COUNT})."
            )
        numbers.add(int(text))
    return sorted(numbers)


def short_labels(numbers: Iterable[int]) -> str:
    """« 4, 10 et 26 »: numbers as a French list (for tables and exports)."""
    items = [str(n) for n in sorted(set(numbers))]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " et " + items[-1]


# --- Which indicators apply to which actions ---------------------------------------------------


@dataclass(frozen=True)
class ActionProfile:
    """What an OF's controlled actions are, as far as the RNQ's applicability goes."""

    certifying: bool = False  # leading to a certification (RNCP/RS)
    apprenticeship: bool = False  # actions de formation par apprentissage
    work_based: bool = False  # periods of training in a work situation (AFEST)
    subcontracting: bool = False  # the OF subcontracts (or uses portage salarial)
    short_only: bool = False  # every action lasts 2 days or less


#: The conditional indicators, with the profile flag they need (True) or exclude (False).
CONDITIONS: dict[int, tuple[str, bool]] = {
    3: ("certifying", True),
    7: ("certifying", True),
    16: ("certifying", True),
    13: ("apprenticeship", True),
    14: ("apprenticeship", True),
    15: ("apprenticeship", True),
    20: ("apprenticeship", True),
    29: ("apprenticeship", True),
    28: ("work_based", True),
    27: ("subcontracting", True),
    12: ("short_only", False),
}


def applies(number: int, profile: ActionProfile) -> bool:
    """Whether indicator `number` applies to actions of this profile."""
    condition = CONDITIONS.get(number)
    if condition is None:
        return True
    flag, needed = condition
    return getattr(profile, flag) is needed


def applicable(profile: ActionProfile) -> list[int]:
    """The indicator numbers that apply to actions of this profile, in order."""
    return [number for number in INDICATORS if applies(number, profile)]


# --- Certif'Région (Occitanie): an optional extension --------------------------------------------


@dataclass(frozen=True)
class ExtensionIndicator:
    code: str  # "CR-A" … "CR-L"
    letter: str
    title: str
    criterion: int | None  # the RNQ criterion it completes (8: the label's own criterion)
    to_confirm: bool  # the title is not in our sources: take it from the label's référentiel

    @property
    def label(self) -> str:
        return f"Certif'Région — indicateur {self.letter}"


CERTIF_REGION_SOURCE = (
    "Carif-Oref Occitanie, « Certif'Région : présentation du label » (27 janvier 2023), "
    "référentiel Certif'Région V5 au 1er janvier 2023"
)
CERTIF_REGION_VERSION = "Certif'Région V5 (2023)"
CERTIF_REGION_CRITERION = (
    8,
    "Critère spécifique Certif'Région (label régional reconnu par France compétences)",
)
_TITLE_TO_CONFIRM = (
    "Intitulé à reprendre du référentiel Certif'Région V5 (absent des sources du portail)."
)

#: The 12 indicators the label adds to the RNQ. The sources give the text of C, E, F, G, H
#: and J, that E, F and G complete criterion 4, and that K (the internal audit report) sits
#: in criterion 8; the others are to confirm against the label's référentiel.
CERTIF_REGION: tuple[ExtensionIndicator, ...] = (
    ExtensionIndicator("CR-A", "A", _TITLE_TO_CONFIRM, None, True),
    ExtensionIndicator("CR-B", "B", _TITLE_TO_CONFIRM, None, True),
    ExtensionIndicator(
        "CR-C",
        "C",
        "Au terme d'une évaluation maîtrisée, le prestataire attribue des badges ou, au "
        "minimum, une attestation des acquis de fin de formation.",
        None,
        False,
    ),
    ExtensionIndicator("CR-D", "D", _TITLE_TO_CONFIRM, None, True),
    ExtensionIndicator(
        "CR-E",
        "E",
        "Les locaux permettent d'accueillir les bénéficiaires dans de bonnes conditions et "
        "sont conformes aux réglementations en vigueur.",
        4,
        False,
    ),
    ExtensionIndicator(
        "CR-F",
        "F",
        "La maintenance et le renouvellement des équipements sont assurés.",
        4,
        False,
    ),
    ExtensionIndicator(
        "CR-G",
        "G",
        "Quand il recourt à la formation à distance (FAD), le prestataire s'assure que les "
        "ressources mobilisées garantissent de bonnes conditions de réalisation.",
        4,
        False,
    ),
    ExtensionIndicator(
        "CR-H",
        "H",
        "Un référent handicap est nommé, formé par un organisme désigné par l'Agefiph, et "
        "tient ses connaissances à jour.",
        None,
        False,
    ),
    ExtensionIndicator("CR-I", "I", _TITLE_TO_CONFIRM, None, True),
    ExtensionIndicator(
        "CR-J",
        "J",
        "Le prestataire conduit chaque année un audit interne des dispositions du référentiel.",
        None,
        False,
    ),
    ExtensionIndicator(
        "CR-K",
        "K",
        "Rapport d'audit qualité interne (critère 8 du référentiel Certif'Région) ; intitulé "
        "exact à confirmer.",
        8,
        True,
    ),
    ExtensionIndicator("CR-L", "L", _TITLE_TO_CONFIRM, None, True),
)

EXTENSION_INDICATORS: dict[str, ExtensionIndicator] = {i.code: i for i in CERTIF_REGION}


def indicator_codes(profile: ActionProfile, *, certif_region: bool = False) -> list[str]:
    """The grid of a control: the applicable RNQ indicators ("1" … "32"), then Certif'Région's
    ("CR-A" … "CR-L") when the funder requires that label."""
    codes = [str(number) for number in applicable(profile)]
    if certif_region:
        codes += [i.code for i in CERTIF_REGION]
    return codes


def code_label(code: str) -> str:
    """« Indicateur 4 — analyse du besoin » or « Certif'Région — indicateur C »."""
    if code in EXTENSION_INDICATORS:
        return EXTENSION_INDICATORS[code].label
    return INDICATORS[int(code)].label


def code_title(code: str) -> str:
    if code in EXTENSION_INDICATORS:
        return EXTENSION_INDICATORS[code].title
    return INDICATORS[int(code)].title


def code_is_major_only(code: str) -> bool:
    """Certif'Région's indicators are graded like the RNQ's ordinary ones (both levels)."""
    return code.isdigit() and int(code) in MAJOR_ONLY


def code_indicator_number(code: str) -> int | None:
    """The RNQ number of a grid code (None for the Certif'Région extension)."""
    return int(code) if code.isdigit() else None
