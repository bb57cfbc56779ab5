"""Builders for contract tests: registered firms and a complete body for them."""

import uuid
from typing import Any

from stdnum.it import codicefiscale

from matchmaker.accounts import service as accounts_service
from matchmaker.contracts import service
from matchmaker.firms import service as firms_service
from matchmaker.firms.schemas import validate_firm
from tests.firms.helpers import firm_payload

NAMES = ["Mobilificio Brianza", "Tessiture Lariane", "Vernici Verdi", "Logistica Adda",
         "Design Studio Monza", "Legnami Valtellina", "Imbottiti Seregno", "Metalli Lecco"]
PEOPLE = [("Anna", "Bianchi", "BNCNNA80A41F205"), ("Marco", "Rossi", "RSSMRC75C12A794"),
          ("Giuseppe", "Verdi", "VRDGPP70B05L219"), ("Paola", "Neri", "NREPLA82D50H501"),
          ("Luca", "Ferrari", "FRRLCU60E10D612"), ("Sara", "Costa", "CSTSRA90H55A271")]


def cf(i: int) -> str:
    """Return a valid codice fiscale for person i."""
    base = PEOPLE[i % len(PEOPLE)][2]
    return base + codicefiscale.calc_check_digit(base)


def make_firms(db, n: int, *, goals=(("innovation", "internationalisation"),), owners=None):
    """Register n firms with distinct names (and goals); return them."""
    firms = []
    for i in range(n):
        serial = uuid.uuid4().int % 9_000_000 + 1_000_000
        g = list(goals[i % len(goals)])
        firm = firms_service.create_firm(db, data=validate_firm(
            firm_payload(serial, name=f"{NAMES[i % len(NAMES)]} {serial} S.r.l.", goals=g)))
        if owners is not None:
            accounts_service.add_firm_member(db, user=owners[i], firm_id=firm.id, role="owner")
        firms.append(firm)
    return firms


def register_data(contract) -> list[dict[str, Any]]:
    """Return the participants of a contract with REA, office and representative filled in."""
    out = []
    for i, p in enumerate(contract.body["participants"]):
        first, last, _ = PEOPLE[i % len(PEOPLE)]
        out.append({**p, "rea": f"MB-{100000 + i}", "registered_office": f"Via Roma {i + 1}",
                    "representative": {"name": f"{first} {last}", "tax_code": cf(i),
                                       "role": "Amministratore unico"}})
    return out


def complete_changes(contract, *, soggetto: bool = False, fund: bool = True,
                     body: bool = True, form: str = "notarial_deed") -> dict[str, Any]:
    """Return sections that complete every required element for the contract's participants."""
    parts = register_data(contract)
    pivas = [p["partita_iva"] for p in parts]
    changes: dict[str, Any] = {
        "kind": "rete_soggetto" if soggetto else "rete_contratto",
        "form": form,
        "participants": parts,
        "network": {"name": "Rete Brianza Arredo", "seat_address": "Via Cavour 3",
                    "seat_comune": "Lissone", "seat_province": "MB"},
        "objectives": [{"text": "Entrare nel mercato tedesco dell'arredo su misura",
                        "indicators": [{"indicator": "Fatturato in Germania",
                                        "baseline": "0 EUR", "target": "500.000 EUR",
                                        "due_date": "2028-12-31"}]}],
        "programme": {
            "collaboration_forms": ["collaborate", "joint_activity"],
            "purpose": "Le Parti progettano e vendono insieme arredi su misura.",
            "activities": [{"title": "Catalogo comune", "lead": pivas[0],
                            "description": "Un catalogo e un sito comuni"}],
            "parties": [{"partita_iva": p, "rights": "Usare il marchio comune",
                         "obligations": f"Fornire i propri prodotti ({i})",
                         "contributions": [{"kind": "money", "value_eur": "1000"}]}
                        for i, p in enumerate(pivas)],
        },
        "duration": {"years": 5},
        "accession": {"procedure": "Domanda scritta all'organo comune",
                      "decided_by": "unanimity"},
        "decisions": {"rules": [{"matter": "Approvazione del rendiconto",
                                 "rule": "simple_majority"}]},
        "tax_registration": {"name": "Anna Bianchi", "tax_code": cf(0), "role": "Legale"},
        "disputes": {"forum": "court", "court": "Monza", "mediation": True},
    }
    if fund or soggetto:
        changes["common_fund"] = {
            "present": True, "amount_eur": str(10000 * len(pivas)),
            "contributions": [{"partita_iva": p, "amount_eur": "10000"} for p in pivas],
            "valuation_criteria": "Valore nominale", "management_rules": "Gestito dall'organo comune",
        }
    if body or soggetto:
        changes["common_body"] = {
            "present": True, "kind": "participant", "participant": pivas[0],
            "powers_management": "Gestione ordinaria del programma",
            "powers_representation": "Rappresenta la rete verso terzi",
            "acts_for_third_parties": True, "replacement": "Per decisione unanime",
        }
    return changes


def complete_contract(db, author, firms, **kw):
    """Create a contract for the firms and fill every required element."""
    contract = service.create_contract(db, author=author,
                                       partite_iva=[f.partita_iva for f in firms])
    service.update_contract(db, contract=contract, changes=complete_changes(contract, **kw),
                            expected_version=contract.version, author=author)
    return contract
