"""French regions by INSEE code (the list's `codeRegion`), for ministry liaisons' scope."""

REGIONS: dict[str, str] = {
    "01": "Guadeloupe",
    "02": "Martinique",
    "03": "Guyane",
    "04": "La Réunion",
    "06": "Mayotte",
    "11": "Île-de-France",
    "24": "Centre-Val de Loire",
    "27": "Bourgogne-Franche-Comté",
    "28": "Normandie",
    "32": "Hauts-de-France",
    "44": "Grand Est",
    "52": "Pays de la Loire",
    "53": "Bretagne",
    "75": "Nouvelle-Aquitaine",
    "76": "Occitanie",
    "84": "Auvergne-Rhône-Alpes",
    "93": "Provence-Alpes-Côte d'Azur",
    "94": "Corse",
}


def region_name(code: str | None) -> str:
    if not code:
        return "Toutes régions"
    return REGIONS.get(code, f"Région {code}")


def region_choices() -> list[tuple[str, str]]:
    return sorted(REGIONS.items(), key=lambda item: item[1])
