"""Write a synthetic public list in the real DGEFP format (BOM, CRLF, `;`, trailing `;`).

    python bench/make_public_list.py OUT.csv [ROWS] [--seed N] [--drop-certified PCT]

Rows look like the real file: ~30 % certified in at least one category, quoted
denominations now and then (with `;` and `""`), empty foreign-organisation columns,
leading-zero NDAs for overseas regions, SIREN/SIRET with valid Luhn keys. `--seed` and
`--drop-certified` make successive "days" of the list for history benchmarks.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from tests.fixtures.make_public_list_sample import COLUMNS

REGIONS = ["11", "24", "27", "28", "32", "44", "52", "53", "75", "76", "84", "93", "94", "01", "04"]
WORDS = [
    "Formation",
    "Compétences",
    "Avenir",
    "Conseil",
    "Académie",
    "Institut",
    "Atelier",
    "Parcours",
    "Métiers",
    "Savoirs",
    "Numérique",
    "Santé",
    "Langues",
    "Sud",
    "Ouest",
]


def luhn_complete(prefix: str) -> str:
    for digit in "0123456789":
        candidate = prefix + digit
        total = 0
        for index, char in enumerate(reversed(candidate)):
            value = int(char) * (2 if index % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return candidate
    raise AssertionError


def row(i: int, rng: random.Random, drop_certified: float) -> list[str]:
    region = REGIONS[i % len(REGIONS)]
    nda = f"{region}{i:09d}"
    siren = luhn_complete(f"{(10_000_000 + i * 7) % 100_000_000:08d}")
    siret = luhn_complete(siren + f"{1 + i % 9:04d}")
    name = " ".join(rng.sample(WORDS, 3)) + f" {i}"
    if i % 50 == 0:
        name = f'"{name}; le ""centre"""'
    certified = i % 10 < 3 and rng.random() >= drop_certified
    cats = [
        "true" if certified else "false",
        "true" if certified and i % 7 == 0 else "false",
        "true" if certified and i % 11 == 0 else "",
        "true" if certified and i % 5 == 0 else "false",
    ]
    previous = f"{region}{(i + 500_000):09d}" if i % 97 == 0 else ""
    values = [
        nda,
        previous,
        name,
        siren,
        siret,
        f"{1 + i % 200} rue de la Formation",
        f"{31000 + i % 900:05d}",
        "Toulouse",
        region,
        *cats,
        "",
        "",
        "",
        "",
        "",
        "01/03/2026",
        "01/01/2025",
        "31/12/2025",
        "333",
        "Enseignement, formation",
        "",
        "",
        "",
        "",
        str(i % 400),
        str(i % 20),
        str(1 + i % 30),
    ]
    assert len(values) == len(COLUMNS)
    return values


def write(path: Path, rows: int, seed: int = 0, drop_certified: float = 0.0) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        out.write(";".join(COLUMNS) + ";\r\n")
        for i in range(rows):
            out.write(";".join(row(i, rng, drop_certified)) + ";\r\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("rows", type=int, nargs="?", default=150_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--drop-certified", type=float, default=0.0)
    args = parser.parse_args()
    write(args.out, args.rows, args.seed, args.drop_certified)


if __name__ == "__main__":
    main()
