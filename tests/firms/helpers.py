"""Builders for firm test data."""

from stdnum import luhn


def piva(serial: int, office: str = "015") -> str:
    """Return a valid partita IVA: 7-digit serial, 3-digit office code, Luhn check digit."""
    body = f"{serial:07d}{office}"
    return body + luhn.calc_check_digit(body)


def firm_payload(serial: int = 1, **over: object) -> dict:
    """Return a valid firm in API/CSV shape."""
    base = {
        "partita_iva": piva(serial),
        "name": f"Mobilificio Test {serial} S.r.l.",
        "legal_form": "S.r.l.",
        "ateco": "31.09.10",
        "ateco_edition": "2022",
        "comune_istat": "108028",
        "employees": 12,
        "turnover_eur": 1_800_000,
        "offers": "Produzione su misura di cucine in legno massello",
        "needs": "Fornitore di tessuti per imbottiti",
        "goals": ["innovation", "joint_purchasing"],
        "email": "info@example.it",
        "website": "https://example.it",
        "description": "",
        "visibility": "public",
    }
    base.update(over)
    return base
