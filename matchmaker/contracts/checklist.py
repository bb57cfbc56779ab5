"""The law's element table as a checklist: for each element, present / missing / not applicable,
with the legal reference and why it applies (shared/domain/cdr-law.md)."""

from dataclasses import dataclass, field
from typing import Literal

from matchmaker.contracts.schemas import (
    ALLOWED_FORMS,
    FORMS,
    KINDS,
    STANDARD_MODEL_FORMS,
    ContractBody,
)
from matchmaker.i18n import gettext as _

Status = Literal["present", "missing", "not_applicable"]
LAW = "DL 5/2009"


def lett(letter: str) -> str:
    """Return the citation of one letter of comma 4-ter."""
    return f"art. 3, comma 4-ter, lett. {letter}), {LAW}"


# key, letter, English element name (translated at display), wizard step.
ELEMENTS: tuple[tuple[str, str, str, str], ...] = (
    ("participants", "a", "Participants and their register data", "participants"),
    ("network_identity", "a", "Network name and seat", "network"),
    ("objectives", "b", "Strategic objectives", "objectives"),
    ("progress_measures", "b", "How progress is measured", "objectives"),
    ("programme", "c", "Network programme: rights and obligations", "programme"),
    ("common_fund", "c", "Common fund", "fund"),
    ("duration", "d", "Duration", "duration"),
    ("accession", "d", "Accession of new participants", "duration"),
    ("withdrawal", "d", "Causes of withdrawal", "duration"),
    ("common_body", "e", "Common body", "body"),
    ("decision_rules", "f", "Decision rules", "decisions"),
    ("programme_amendment", "f", "Amending the programme by majority", "decisions"),
    ("tax_registration", "model", "Tax registration undertaking", "signature"),
    ("form", "", "Form of the deed", "signature"),
)
KEYS = tuple(e[0] for e in ELEMENTS)


@dataclass
class Item:
    key: str
    letter: str
    element: str
    status: Status
    reference: str
    reason: str
    missing: list[str] = field(default_factory=list)
    step: str = ""


@dataclass
class Problem:
    key: str
    message: str
    reference: str


@dataclass
class Checklist:
    items: list[Item]
    errors: list[Problem]

    @property
    def missing(self) -> list[str]:
        """Return the keys of required elements that are missing."""
        return [i.key for i in self.items if i.status == "missing"]

    @property
    def complete(self) -> bool:
        """Tell whether every required element is present and nothing is inconsistent."""
        return not self.missing and not self.errors

    def item(self, key: str) -> Item:
        """Return one element's entry."""
        return next(i for i in self.items if i.key == key)

    def blocking(self) -> list[str]:
        """Name what blocks the export for signature, one line each."""
        lines = [f"{i.element} ({i.reference})" for i in self.items if i.status == "missing"]
        lines += [p.message for p in self.errors]
        return lines

    def as_dict(self) -> dict:
        """Return the checklist as JSON-ready data (the API's shape)."""
        return {
            "complete": self.complete,
            "missing": self.missing,
            "errors": [{"key": p.key, "message": p.message, "reference": p.reference}
                       for p in self.errors],
            "items": [
                {"key": i.key, "letter": i.letter, "element": i.element, "status": i.status,
                 "reference": i.reference, "reason": i.reason, "missing": i.missing,
                 "step": i.step}
                for i in self.items
            ],
        }


def _lacking(*checks: tuple[str, object]) -> list[str]:
    """Return the label of every (label, value) check whose value is empty, in order."""
    return [label for label, value in checks if not value]


def _participants(b: ContractBody) -> list[str]:
    out: list[str] = []
    if len(b.participants) < 2:
        out.append(_("at least two entrepreneurs must take part"))
    for p in b.participants:
        r = p.representative
        lacking = _lacking((_("REA number"), p.rea),
                           (_("registered office"), p.registered_office),
                           (_("legal representative"), r.name),
                           (_("representative's tax code"), r.tax_code),
                           (_("representative's office"), r.role))
        if lacking:
            out.append(f"{p.name}: " + ", ".join(lacking))
    return out


def _network_identity(b: ContractBody) -> list[str]:
    n = b.network
    return _lacking((_("name of the network"), n.name),
                    (_("seat (address and comune)"), n.seat_address and n.seat_comune))


def _objectives(b: ContractBody) -> list[str]:
    if not any(o.text for o in b.objectives):
        return [_("at least one strategic objective")]
    return [_("objective %(n)s has no text") % {"n": i} for i, o in enumerate(b.objectives, 1)
            if not o.text]


def _progress(b: ContractBody) -> list[str]:
    out = []
    if not b.objectives:
        return [_("objectives first, then an indicator for each")]
    for i, o in enumerate(b.objectives, 1):
        if not o.indicators:
            out.append(_("objective %(n)s: no indicator") % {"n": i})
        for j, ind in enumerate(o.indicators, 1):
            lacking = _lacking((_("indicator"), ind.indicator), (_("baseline"), ind.baseline),
                               (_("target"), ind.target), (_("date"), ind.due_date))
            if lacking:
                out.append(_("objective %(n)s, indicator %(m)s: %(what)s")
                           % {"n": i, "m": j, "what": ", ".join(lacking)})
    return out


def _programme(b: ContractBody) -> list[str]:
    pr = b.programme
    out = _lacking(
        (_("what the participants bind themselves to (collaborate, exchange, joint activities)"),
         pr.collaboration_forms),
        (_("how the common purpose will be achieved"), pr.purpose),
        (_("at least one activity"), any(a.title for a in pr.activities)),
    )
    roles = {r.partita_iva: r for r in pr.parties}
    for p in b.participants:
        r = roles.get(p.partita_iva)
        if r is None or not r.obligations:
            out.append(_("%(name)s: obligations") % {"name": p.name})
        if r is None or not r.rights:
            out.append(_("%(name)s: rights") % {"name": p.name})
    return out


def _fund(b: ContractBody) -> list[str]:
    f = b.common_fund
    return _lacking((_("size of the fund"), f.amount_eur),
                    (_("each participant's initial contribution"), f.contributions),
                    (_("criteria to value contributions"), f.valuation_criteria),
                    (_("management rules"), f.management_rules),
                    (_("terms of the dedicated asset (art. 2447-bis c.c.)"),
                     not f.dedicated_asset or f.dedicated_asset_terms))


def _duration(b: ContractBody) -> list[str]:
    d = b.duration
    return [] if (d.years or d.end_date) else [_("a number of years or an end date")]


def _accession(b: ContractBody) -> list[str]:
    a = b.accession
    return _lacking((_("how other entrepreneurs may join"), a.procedure),
                    (_("who decides on a request to join"), a.decided_by))


def _withdrawal(b: ContractBody) -> list[str]:
    w = b.withdrawal
    return _lacking((_("at least one cause of withdrawal"), w.causes),
                    (_("the conditions to exercise it (notice)"),
                     w.notice_days is not None or w.conditions))


def _common_body(b: ContractBody) -> list[str]:
    c = b.common_body
    out = []
    if c.kind is None:
        out.append(_("who holds the office"))
    elif c.kind == "participant" and not c.participant:
        out.append(_("which participant holds the office"))
    elif c.kind == "person" and not (c.person_name and c.person_tax_code):
        out.append(_("the person's name and tax code"))
    elif c.kind == "board" and len(c.board) < 2:
        out.append(_("the members of the board"))
    return out + _lacking((_("powers of management"), c.powers_management),
                          (_("powers of representation"), c.powers_representation),
                          (_("rules to replace it"), c.replacement))


def _decisions(b: ContractBody) -> list[str]:
    rules = b.decisions.rules
    if not any(r.matter for r in rules):
        return [_("at least one matter and how it is decided")]
    return [_("%(matter)s: the qualified majority's quorum") % {"matter": r.matter}
            for r in rules if r.rule == "qualified_majority" and not r.quorum]


def _amendment(b: ContractBody) -> list[str]:
    a = b.programme_amendment
    out = []
    if not a.rule:
        out.append(_("which majority"))
    elif a.rule == "qualified_majority" and not a.quorum:
        out.append(_("the qualified majority's quorum"))
    if not a.procedure:
        out.append(_("how the decision is taken"))
    return out


def _tax(b: ContractBody) -> list[str]:
    t = b.tax_registration
    return _lacking((_("name"), t.name), (_("tax code"), t.tax_code))


def build(body: ContractBody) -> Checklist:
    """Check a body against every element of the law's table."""
    b = body
    fund, organ = b.common_fund.present, b.common_body.present
    soggetto = b.kind == "rete_soggetto"
    standard_model = b.form is None or b.form in STANDARD_MODEL_FORMS
    always = _("required for every network contract")
    rules: dict[str, tuple[bool, str, object]] = {
        "participants": (True, always, _participants),
        "network_identity": (
            fund or soggetto,
            _("required because a common fund is set up") if fund
            else _("required because the network is a rete-soggetto") if soggetto
            else _("not applicable: no common fund"),
            _network_identity,
        ),
        "objectives": (True, always, _objectives),
        "progress_measures": (True, always, _progress),
        "programme": (True, always, _programme),
        "common_fund": (
            fund,
            _("required because a common fund is set up") if fund
            else _("not applicable: no common fund"),
            _fund,
        ),
        "duration": (True, always, _duration),
        "accession": (True, always, _accession),
        "withdrawal": (
            b.withdrawal.agreed,
            _("required because causes of early withdrawal are agreed") if b.withdrawal.agreed
            else _("not applicable: no causes of early withdrawal agreed (the general rules on "
                   "multilateral contracts apply)"),
            _withdrawal,
        ),
        "common_body": (
            organ,
            _("required because a common body is set up") if organ
            else _("not applicable: no common body"),
            _common_body,
        ),
        "decision_rules": (True, always, _decisions),
        "programme_amendment": (
            b.programme_amendment.by_majority,
            _("required because the programme may be changed by majority")
            if b.programme_amendment.by_majority
            else _("not applicable: the programme changes only by unanimity"),
            _amendment,
        ),
        "tax_registration": (
            standard_model,
            _("required because the deed goes through the standard model (digital signatures)")
            if b.form else _("required while the form of the deed is not chosen: the standard "
                             "model asks for it"),
            _tax,
        ),
        "form": (True, always, lambda body: [] if body.form else [_("choose the form")]),
    }
    if not standard_model:
        rules["tax_registration"] = (
            False, _("not applicable: the notary registers a notarial or authenticated deed"), _tax
        )
    refs = {
        "tax_registration": f"art. 3, comma 4-ter, {LAW}; DM Giustizia 10 aprile 2014 n. 122",
        "form": f"art. 3, comma 4-ter, {LAW}; artt. 24-25 d.lgs. 82/2005",
    }
    items: list[Item] = []
    for key, letter, element, step in ELEMENTS:
        applies, reason, check = rules[key]
        ref = refs.get(key) or lett(letter)
        if key == "common_fund" and b.common_fund.dedicated_asset:
            ref += "; art. 2447-bis c.c."
        if not applies:
            items.append(Item(key, letter, _(element), "not_applicable", ref, reason, [], step))
            continue
        missing = check(b)  # type: ignore[operator]
        items.append(Item(key, letter, _(element), "missing" if missing else "present", ref,
                          reason, missing, step))

    errors: list[Problem] = []
    soggetto_ref = f"art. 3, commi 4-ter e 4-quater, {LAW}"
    if soggetto and not fund:
        errors.append(Problem("common_fund", _("A rete-soggetto must have a common fund."),
                              soggetto_ref))
    if soggetto and not organ:
        errors.append(Problem("common_body", _("A rete-soggetto must have a common body."),
                              soggetto_ref))
    if b.form and b.form not in ALLOWED_FORMS[b.kind]:
        errors.append(Problem(
            "form",
            _("A %(kind)s cannot be signed as: %(form)s.")
            % {"kind": _(KINDS[b.kind]["en"]), "form": _(FORMS[b.form]["en"])},
            soggetto_ref,
        ))
    return Checklist(items, errors)


def allowed_forms(body: ContractBody) -> tuple[str, ...]:
    """Return the forms of the deed the network's kind allows."""
    return ALLOWED_FORMS[body.kind]
