"""Small public lists in the real format, written by the tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.fixtures.make_public_list_sample import header, line, siren, siret

BOOL = {True: "true", False: "false"}


@dataclass(frozen=True)
class Org:
    nda: str
    name: str
    siren_base: str  # 8 digits, the Luhn key is added
    formation: bool = True
    bilans: bool = False
    vae: bool = False
    apprentissage: bool = False
    nic: str = "0001"
    previous: str = ""
    region: str = "76"

    @property
    def siren(self) -> str:
        return siren(self.siren_base)

    @property
    def siret(self) -> str:
        return siret(self.siren, self.nic)

    def but(self, **changes) -> Org:
        return Org(**{**self.__dict__, **changes})


def write_list(path: Path, orgs: list[Org], extra_lines: str = "") -> Path:
    text = (
        header()
        + "".join(
            line(
                nda=o.nda,
                previous=o.previous,
                denomination=o.name,
                siren=o.siren,
                siret=o.siret,
                postal_code="31000",
                city="Toulouse",
                region=o.region,
                c_formation=BOOL[o.formation],
                c_bilans=BOOL[o.bilans],
                c_vae=BOOL[o.vae],
                c_apprentissage=BOOL[o.apprentissage],
                d_declaration="15/03/2025",
            )
            for o in orgs
        )
        + extra_lines
    )
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    return path


GARONNE = Org("76311234567", "Atelier Formation Garonne", "81234567")
CARAIBES = Org("01971234567", "Caraïbes Compétences", "90123456", vae=True, region="01")
BILANS = Org("93131234567", "Bilans du Sud", "52345678", formation=False, bilans=True)
PLUS_PARIS = Org("11755432101", "Compétences Plus", "30012345", apprentissage=True)
PLUS_LYON = Org("84691234560", "Compétences Plus Lyon", "30012345", nic="0002")
