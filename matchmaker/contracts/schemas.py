"""The contract body as a validated document, its vocabularies, and the API's shapes.

The body is what the parties agree: every section of the law's element table (see
`checklist.py`) plus what the register and the standard model need. Every field has a default,
so a draft is valid from the first save; completeness is the checklist's job, not validation's.
"""

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.it import codicefiscale

from matchmaker.firms.schemas import normalize_partita_iva
from matchmaker.i18n import gettext as _

Kind = Literal["rete_contratto", "rete_soggetto"]
Form = Literal[
    "notarial_deed", "authenticated_private_deed", "digital_signatures",
    "digital_signatures_authenticated",
]
Rule = Literal["unanimity", "simple_majority", "qualified_majority"]
Status = Literal["draft", "in_review", "approved", "signed", "filed", "effective"]

# Labels: English for the app (through gettext), Italian for the documents.
KINDS: dict[str, dict[str, str]] = {
    "rete_contratto": {
        "en": "Rete-contratto (no legal subjectivity)",
        "it": "rete-contratto, priva di soggettività giuridica",
    },
    "rete_soggetto": {
        "en": "Rete-soggetto (with legal subjectivity)",
        "it": "rete-soggetto, dotata di soggettività giuridica",
    },
}
FORMS: dict[str, dict[str, str]] = {
    "notarial_deed": {"en": "Notarial deed", "it": "atto pubblico"},
    "authenticated_private_deed": {
        "en": "Private deed with authenticated signatures",
        "it": "scrittura privata autenticata",
    },
    "digital_signatures": {
        "en": "Digital signatures on the standard model (CAD art. 24)",
        "it": "atto firmato digitalmente sul modello standard (art. 24 CAD)",
    },
    "digital_signatures_authenticated": {
        "en": "Authenticated digital signatures (CAD art. 25)",
        "it": "atto firmato digitalmente con firme autenticate (art. 25 CAD)",
    },
}
# A rete-soggetto needs a notary's authentication in some form (cdr-law.md, "Two kinds").
ALLOWED_FORMS: dict[str, tuple[str, ...]] = {
    "rete_contratto": tuple(FORMS),
    "rete_soggetto": ("notarial_deed", "authenticated_private_deed",
                      "digital_signatures_authenticated"),
}
# Forms that go through the Ministry's standard model, which carries the tax undertaking.
STANDARD_MODEL_FORMS = frozenset({"digital_signatures", "digital_signatures_authenticated"})
RULES: dict[str, dict[str, str]] = {
    "unanimity": {"en": "Unanimity", "it": "all'unanimità"},
    "simple_majority": {"en": "Simple majority", "it": "a maggioranza semplice"},
    "qualified_majority": {"en": "Qualified majority", "it": "a maggioranza qualificata"},
}
CONTRIBUTION_KINDS: dict[str, dict[str, str]] = {
    "money": {"en": "Money", "it": "denaro"},
    "goods": {"en": "Goods", "it": "beni"},
    "staff_time": {"en": "Staff time", "it": "tempo del personale"},
}
COLLABORATION_FORMS: dict[str, dict[str, str]] = {
    "collaborate": {
        "en": "Collaborate in agreed forms and areas of their businesses",
        "it": "collaborare in forme e ambiti prestabiliti, connessi all'esercizio delle "
              "rispettive imprese",
    },
    "exchange": {
        "en": "Exchange information or industrial, commercial, technical or technological services",
        "it": "scambiarsi informazioni e prestazioni di carattere industriale, commerciale, "
              "tecnico o tecnologico",
    },
    "joint_activity": {
        "en": "Jointly carry out activities within the object of their businesses",
        "it": "svolgere insieme una o più attività comprese nell'oggetto delle rispettive imprese",
    },
}
BODY_KINDS: dict[str, dict[str, str]] = {
    "participant": {"en": "One of the participants", "it": "un partecipante"},
    "person": {"en": "A natural person", "it": "una persona fisica"},
    "board": {"en": "A board", "it": "un organo collegiale"},
}
RENEWALS: dict[str, dict[str, str]] = {
    "none": {"en": "No renewal", "it": "senza rinnovo"},
    "tacit": {"en": "Tacit renewal for the same period", "it": "con rinnovo tacito"},
    "by_decision": {"en": "Renewal by the participants' decision",
                    "it": "rinnovabile per decisione dei partecipanti"},
}
VOTING: dict[str, dict[str, str]] = {
    "per_head": {"en": "One vote per participant", "it": "un voto per partecipante"},
    "by_fund_share": {"en": "Votes weighted by fund contributions",
                      "it": "voti ponderati secondo i conferimenti al fondo"},
}
STATUS_LABELS: dict[str, str] = {
    "draft": "Draft",
    "in_review": "In review",
    "approved": "Approved",
    "signed": "Signed",
    "filed": "Filed",
    "effective": "Effective",
}

REA_RE = re.compile(r"^([A-Za-z]{2})\s*[-/ ]?\s*(\d{1,7})$")
TEXT = 4000
SHORT = 300


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _codice_fiscale(value: str) -> str:
    if not value:
        return ""
    try:
        return codicefiscale.validate(value.upper().replace(" ", ""))
    except StdnumError:
        raise ValueError(_("not a valid codice fiscale")) from None


def _piva_or_blank(value: str | None) -> str | None:
    return normalize_partita_iva(value) if value else None


class Representative(_Part):
    name: str = Field("", max_length=SHORT)
    tax_code: str = Field("", max_length=20, description="codice fiscale (16 characters)")
    role: str = Field("", max_length=SHORT, examples=["Amministratore unico"])

    _cf = field_validator("tax_code")(classmethod(lambda cls, v: _codice_fiscale(v)))


class Participant(_Part):
    firm_id: int | None = None
    partita_iva: str = Field(max_length=20)
    name: str = Field(min_length=1, max_length=SHORT)
    legal_form: str = Field("", max_length=60)
    tax_code: str = Field("", max_length=20, description="the firm's C.F. when it differs")
    rea: str = Field("", max_length=20, examples=["MI-1234567"])
    registered_office: str = Field("", max_length=SHORT, description="street address")
    comune: str = Field("", max_length=120)
    province: str = Field("", max_length=2)
    representative: Representative = Field(default_factory=Representative)
    joined: Literal["original", "later"] = "original"

    _piva = field_validator("partita_iva")(classmethod(lambda cls, v: normalize_partita_iva(v)))
    _cf = field_validator("tax_code")(classmethod(lambda cls, v: _codice_fiscale(v)))

    @field_validator("rea")
    @classmethod
    def _rea(cls, v: str) -> str:
        if not v:
            return ""
        m = REA_RE.match(v)
        if not m:
            raise ValueError(_("write the REA number as the province and the number: MI-1234567"))
        return f"{m.group(1).upper()}-{m.group(2)}"


class Indicator(_Part):
    indicator: str = Field("", max_length=SHORT)
    baseline: str = Field("", max_length=SHORT)
    target: str = Field("", max_length=SHORT)
    due_date: date | None = None


class Objective(_Part):
    text: str = Field("", max_length=TEXT)
    goal: str | None = Field(None, max_length=30, description="the goal key it came from")
    indicators: list[Indicator] = Field(default_factory=list, max_length=20)


class Contribution(_Part):
    kind: Literal["money", "goods", "staff_time"] = "money"
    description: str = Field("", max_length=SHORT)
    value_eur: Decimal | None = Field(None, ge=0, le=10**12, decimal_places=2)


class PartyRole(_Part):
    partita_iva: str
    rights: str = Field("", max_length=TEXT)
    obligations: str = Field("", max_length=TEXT)
    contributions: list[Contribution] = Field(default_factory=list, max_length=20)

    _piva = field_validator("partita_iva")(classmethod(lambda cls, v: normalize_partita_iva(v)))


class Activity(_Part):
    title: str = Field("", max_length=SHORT)
    description: str = Field("", max_length=TEXT)
    lead: str | None = Field(None, description="partita IVA of the participant who leads it")
    stage: str = Field("", max_length=SHORT, description="value-chain stage it covers")

    _piva = field_validator("lead")(classmethod(lambda cls, v: _piva_or_blank(v)))


class Programme(_Part):
    collaboration_forms: list[Literal["collaborate", "exchange", "joint_activity"]] = Field(
        default_factory=list
    )
    purpose: str = Field("", max_length=TEXT, description="how the common purpose is achieved")
    activities: list[Activity] = Field(default_factory=list, max_length=50)
    parties: list[PartyRole] = Field(default_factory=list, max_length=200)


class Duration(_Part):
    years: int | None = Field(None, ge=1, le=99)
    end_date: date | None = None
    renewal: Literal["none", "tacit", "by_decision"] = "none"


class Accession(_Part):
    procedure: str = Field("", max_length=TEXT)
    decided_by: Rule | Literal["common_body"] | None = None
    requirements: str = Field("", max_length=TEXT)


class Withdrawal(_Part):
    agreed: bool = False
    causes: list[str] = Field(default_factory=list, max_length=20)
    notice_days: int | None = Field(None, ge=0, le=3650)
    conditions: str = Field("", max_length=TEXT)

    @field_validator("causes")
    @classmethod
    def _causes(cls, v: list[str]) -> list[str]:
        return [c.strip() for c in v if c and c.strip()]


class FundContribution(_Part):
    partita_iva: str
    amount_eur: Decimal | None = Field(None, ge=0, le=10**12, decimal_places=2)
    in_kind: str = Field("", max_length=SHORT)

    _piva = field_validator("partita_iva")(classmethod(lambda cls, v: normalize_partita_iva(v)))


class CommonFund(_Part):
    present: bool = False
    amount_eur: Decimal | None = Field(None, ge=0, le=10**12, decimal_places=2)
    contributions: list[FundContribution] = Field(default_factory=list, max_length=200)
    valuation_criteria: str = Field("", max_length=TEXT)
    later_contributions: str = Field("", max_length=TEXT)
    management_rules: str = Field("", max_length=TEXT)
    dedicated_asset: bool = False
    dedicated_asset_terms: str = Field("", max_length=TEXT)


class CommonBody(_Part):
    present: bool = False
    kind: Literal["participant", "person", "board"] | None = None
    participant: str | None = Field(None, description="partita IVA, when a participant holds it")
    person_name: str = Field("", max_length=SHORT)
    person_tax_code: str = Field("", max_length=20)
    board: list[str] = Field(default_factory=list, max_length=20,
                             description="members of the board (names)")
    powers_management: str = Field("", max_length=TEXT)
    powers_representation: str = Field("", max_length=TEXT)
    acts_for_third_parties: bool = False
    term_years: int | None = Field(None, ge=1, le=99)
    replacement: str = Field("", max_length=TEXT)

    _piva = field_validator("participant")(classmethod(lambda cls, v: _piva_or_blank(v)))
    _cf = field_validator("person_tax_code")(classmethod(lambda cls, v: _codice_fiscale(v)))

    @field_validator("board")
    @classmethod
    def _board(cls, v: list[str]) -> list[str]:
        return [m.strip() for m in v if m and m.strip()]


class DecisionRule(_Part):
    matter: str = Field("", max_length=SHORT)
    rule: Rule = "simple_majority"
    quorum: str = Field("", max_length=100, examples=["due terzi"])


class Decisions(_Part):
    rules: list[DecisionRule] = Field(default_factory=list, max_length=30)
    voting: Literal["per_head", "by_fund_share"] = "per_head"


class ProgrammeAmendment(_Part):
    by_majority: bool = False
    rule: Literal["simple_majority", "qualified_majority"] | None = None
    quorum: str = Field("", max_length=100)
    procedure: str = Field("", max_length=TEXT)


class Staff(_Part):
    secondment: bool = False
    co_employment: bool = False
    rules: str = Field("", max_length=TEXT)
    unirete_sender: str | None = Field(None, description="partita IVA of the participant that "
                                                         "sends the Unirete communications")

    _piva = field_validator("unirete_sender")(classmethod(lambda cls, v: _piva_or_blank(v)))


class Agriculture(_Part):
    agricultural: bool = False
    product_sharing: str = Field("", max_length=TEXT)


class NetworkIdentity(_Part):
    name: str = Field("", max_length=SHORT)
    seat_address: str = Field("", max_length=SHORT)
    seat_comune: str = Field("", max_length=120)
    seat_province: str = Field("", max_length=2)


class TaxRegistration(_Part):
    name: str = Field("", max_length=SHORT)
    tax_code: str = Field("", max_length=20)
    role: str = Field("", max_length=SHORT)

    _cf = field_validator("tax_code")(classmethod(lambda cls, v: _codice_fiscale(v)))


class Disputes(_Part):
    forum: Literal["court", "arbitration"] = "court"
    court: str = Field("", max_length=120)
    mediation: bool = True


class ContractBody(_Part):
    """Everything the parties agree, section by section."""

    kind: Kind = "rete_contratto"
    form: Form | None = None
    network: NetworkIdentity = Field(default_factory=NetworkIdentity)
    participants: list[Participant] = Field(default_factory=list, max_length=200)
    objectives: list[Objective] = Field(default_factory=list, max_length=30)
    programme: Programme = Field(default_factory=Programme)
    duration: Duration = Field(default_factory=Duration)
    accession: Accession = Field(default_factory=Accession)
    withdrawal: Withdrawal = Field(default_factory=Withdrawal)
    common_fund: CommonFund = Field(default_factory=CommonFund)
    common_body: CommonBody = Field(default_factory=CommonBody)
    decisions: Decisions = Field(default_factory=Decisions)
    programme_amendment: ProgrammeAmendment = Field(default_factory=ProgrammeAmendment)
    staff: Staff = Field(default_factory=Staff)
    agriculture: Agriculture = Field(default_factory=Agriculture)
    tax_registration: TaxRegistration = Field(default_factory=TaxRegistration)
    disputes: Disputes = Field(default_factory=Disputes)

    @model_validator(mode="after")
    def _references(self) -> "ContractBody":
        pivas = [p.partita_iva for p in self.participants]
        seen: set[str] = set()
        for p in pivas:
            if p in seen:
                raise ValueError(_("partita IVA %(piva)s is listed twice") % {"piva": p})
            seen.add(p)
        refs = [
            *(a.lead for a in self.programme.activities),
            *(r.partita_iva for r in self.programme.parties),
            *(c.partita_iva for c in self.common_fund.contributions),
            self.common_body.participant,
            self.staff.unirete_sender,
        ]
        for ref in refs:
            if ref and ref not in seen:
                raise ValueError(
                    _("partita IVA %(piva)s is not one of the participants") % {"piva": ref}
                )
        return self

    def participant(self, partita_iva: str | None) -> Participant | None:
        """Return the participant with this partita IVA, if any."""
        return next((p for p in self.participants if p.partita_iva == partita_iva), None)

    def originals(self) -> list[Participant]:
        """Return the original signatories (not those who joined later)."""
        return [p for p in self.participants if p.joined == "original"]


SECTIONS = tuple(ContractBody.model_fields)


class ContractInvalid(ValueError):
    """Input that cannot be saved, with one message per field (dotted path)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors

    def as_detail(self) -> list[dict[str, Any]]:
        """Return FastAPI-style 422 details."""
        return [
            {"loc": ["body", *k.split(".")], "msg": v, "type": "value_error"}
            for k, v in self.errors.items()
        ]


def errors_from(exc: ValidationError, prefix: str = "") -> dict[str, str]:
    """Turn pydantic errors into {dotted.path: message}."""
    out: dict[str, str] = {}
    for e in exc.errors():
        loc = ".".join(str(p) for p in e.get("loc", ()))
        key = ".".join(p for p in (prefix, loc) if p) or "__all__"
        msg = e.get("msg", "invalid")
        msg = msg.removeprefix("Value error, ")
        if e.get("type") == "extra_forbidden":
            msg = _("unknown field")
        out.setdefault(key, msg)
    return out


def validate_body(data: dict[str, Any]) -> ContractBody:
    """Validate a whole body or raise ContractInvalid naming each bad field."""
    try:
        return ContractBody.model_validate(data)
    except ValidationError as exc:
        raise ContractInvalid(errors_from(exc)) from None


def dump_body(body: ContractBody) -> dict[str, Any]:
    """Return the body as JSON-ready data (what the database stores)."""
    return body.model_dump(mode="json")


# ---------------------------------------------------------------------------- API shapes


class ContractCreate(BaseModel):
    """A new contract: from registered firms (partite IVA) or from a network."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field("", max_length=200)
    kind: Kind = "rete_contratto"
    partite_iva: list[str] = Field(default_factory=list, max_length=200)
    network_id: int | None = None
    template_id: int | None = None


class ContractPatch(BaseModel):
    """Sections to replace, and the version they were edited from (a stale one gets 409)."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    title: str | None = Field(None, max_length=200)
    template_id: int | None = None
    kind: Kind | None = None
    form: Form | None = None
    network: dict[str, Any] | None = None
    participants: list[dict[str, Any]] | None = None
    objectives: list[dict[str, Any]] | None = None
    programme: dict[str, Any] | None = None
    duration: dict[str, Any] | None = None
    accession: dict[str, Any] | None = None
    withdrawal: dict[str, Any] | None = None
    common_fund: dict[str, Any] | None = None
    common_body: dict[str, Any] | None = None
    decisions: dict[str, Any] | None = None
    programme_amendment: dict[str, Any] | None = None
    staff: dict[str, Any] | None = None
    agriculture: dict[str, Any] | None = None
    tax_registration: dict[str, Any] | None = None
    disputes: dict[str, Any] | None = None


class TransitionIn(BaseModel):
    """Move a contract to another state; signing and filing carry their facts."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    to: Status
    form: Form | None = None
    signed_on: date | None = None
    notary: str = Field("", max_length=SHORT)
    signers: list[str] = Field(default_factory=list, max_length=200)
    filed_on: date | None = None
    filed_by: str | None = Field(None, description="partita IVA of the impresa di riferimento")


class ApprovalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partita_iva: str = Field(max_length=20)
    version: int = Field(ge=1)


class RegistrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partita_iva: str = Field(max_length=20)
    registered_on: date


class ChecklistItemOut(BaseModel):
    key: str
    letter: str
    element: str
    status: Literal["present", "missing", "not_applicable"]
    reference: str
    reason: str
    missing: list[str]
    step: str


class ChecklistOut(BaseModel):
    complete: bool
    missing: list[str] = Field(description="keys of the required elements still missing")
    errors: list[dict[str, str]] = Field(description="inconsistencies that block signature")
    items: list[ChecklistItemOut]


class ApprovalOut(BaseModel):
    partita_iva: str
    version: int
    approver: str
    approved_at: datetime
    current: bool


class RegistrationOut(BaseModel):
    partita_iva: str
    registered_on: date


class TemplateRef(BaseModel):
    id: int
    key: str
    number: int
    name: str


class ContractOut(BaseModel):
    id: int
    title: str
    status: Status
    version: int
    kind: Kind
    network_id: int | None
    template: TemplateRef | None
    body: dict[str, Any]
    approvals: list[ApprovalOut]
    registrations: list[RegistrationOut]
    signature: dict[str, Any] | None
    filed_on: date | None
    effective_on: date | None
    checklist_complete: bool
    created_at: datetime
    updated_at: datetime


class ContractSummaryOut(BaseModel):
    id: int
    title: str
    status: Status
    version: int
    kind: Kind
    participants: int
    updated_at: datetime


class ContractPageOut(BaseModel):
    items: list[ContractSummaryOut]
    total: int
    page: int
    per_page: int
    pages: int


class VersionOut(BaseModel):
    number: int
    author: str
    created_at: datetime
    changes: list[str]
    title: str
    template_id: int | None
