"""Firm input and output shapes, the goal vocabulary, and validation against reference data."""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.it import iva

from matchmaker.i18n import gettext as _

# Strategic goals: stable keys (CSV, API) with Italian and English labels.
GOALS: dict[str, dict[str, str]] = {
    "innovation": {"it": "Innovazione", "en": "Innovation"},
    "internationalisation": {"it": "Internazionalizzazione", "en": "Internationalisation"},
    "joint_rnd": {"it": "Ricerca e sviluppo congiunti", "en": "Joint R&D"},
    "joint_purchasing": {"it": "Acquisti congiunti", "en": "Joint purchasing"},
    "shared_logistics": {"it": "Logistica condivisa", "en": "Shared logistics"},
    "joint_marketing": {"it": "Marketing e marchio comune", "en": "Joint marketing / brand"},
    "training": {"it": "Formazione", "en": "Training"},
    "sustainability": {"it": "Sostenibilità", "en": "Sustainability"},
    "digitalisation": {"it": "Digitalizzazione", "en": "Digitalisation"},
    "public_tenders": {"it": "Appalti pubblici", "en": "Public tenders"},
    "access_to_credit": {"it": "Accesso al credito", "en": "Access to credit"},
    "production_capacity": {"it": "Capacità produttiva", "en": "Production capacity"},
}
GoalKey = Literal[
    "innovation", "internationalisation", "joint_rnd", "joint_purchasing", "shared_logistics",
    "joint_marketing", "training", "sustainability", "digitalisation", "public_tenders",
    "access_to_credit", "production_capacity",
]
VISIBILITY = {
    "public": {"it": "Pubblico", "en": "Public"},
    "association": {"it": "Solo associazioni", "en": "Associations only"},
    "hidden": {"it": "Nascosto", "en": "Hidden"},
}
SME_CLASSES = {
    "micro": {"it": "Micro impresa", "en": "Micro enterprise"},
    "small": {"it": "Piccola impresa", "en": "Small enterprise"},
    "medium": {"it": "Media impresa", "en": "Medium enterprise"},
    "large": {"it": "Grande impresa", "en": "Large enterprise"},
}
LEGAL_FORMS = [
    "S.r.l.", "S.r.l.s.", "S.p.A.", "S.a.s.", "S.n.c.", "Ditta individuale",
    "Società cooperativa", "Consorzio", "S.a.p.a.", "Società semplice",
]
EDITIONS = ("2007", "2022", "2025")

# CSV columns of interfaces.md, then our extensions (optional on import).
CSV_COLUMNS = [
    "partita_iva", "name", "ateco", "ateco_secondary", "comune_istat", "comune", "province",
    "employees", "turnover_eur", "offers", "needs", "goals", "email", "website", "description",
]
CSV_EXTRA_COLUMNS = ["legal_form", "ateco_edition", "visibility"]
ALL_COLUMNS = CSV_COLUMNS + CSV_EXTRA_COLUMNS

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
URL_RE = re.compile(r"^(https?://)?[\w.-]+\.[a-z]{2,}(/\S*)?$", re.IGNORECASE)


def label(vocab: dict[str, dict[str, str]], key: str, lang: str) -> str:
    """Return the label of a vocabulary key in a language."""
    return vocab.get(key, {}).get(lang, key)


def sme_class(employees: int | None, turnover_eur: int | None) -> str | None:
    """Classify by EU recommendation 2003/361 (staff headcount and turnover)."""
    if employees is None and turnover_eur is None:
        return None
    staff = employees if employees is not None else 0
    turnover = turnover_eur if turnover_eur is not None else 0
    if staff < 10 and turnover <= 2_000_000:
        return "micro"
    if staff < 50 and turnover <= 10_000_000:
        return "small"
    if staff < 250 and turnover <= 50_000_000:
        return "medium"
    return "large"


def normalize_partita_iva(value: str) -> str:
    """Return the 11-digit partita IVA, or raise ValueError saying what is wrong."""
    try:
        return iva.validate(value)
    except InvalidChecksum:
        raise ValueError(_("invalid check digit")) from None
    except InvalidLength:
        raise ValueError(_("must have 11 digits")) from None
    except InvalidFormat:
        raise ValueError(_("must contain digits only")) from None
    except StdnumError:
        raise ValueError(_("not a valid partita IVA")) from None


class FirmIn(BaseModel):
    """A firm as the API and the CSV carry it (CSV column names)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    partita_iva: str = Field(max_length=20, examples=["00743110157"])
    name: str = Field(min_length=2, max_length=200)
    legal_form: str | None = Field(None, max_length=60)
    ateco: str = Field(max_length=12, examples=["25.62.00"])
    ateco_edition: Literal["2007", "2022", "2025"] | None = None
    ateco_secondary: list[str] = Field(default_factory=list, max_length=10)
    comune_istat: str | None = Field(None, max_length=6)
    comune: str | None = Field(None, max_length=120)
    province: str | None = Field(None, max_length=2)
    employees: int | None = Field(None, ge=0, le=1_000_000)
    turnover_eur: int | None = Field(None, ge=0, le=10**13)
    offers: str = Field("", max_length=4000)
    needs: str = Field("", max_length=4000)
    goals: list[GoalKey] = Field(default_factory=list)
    email: str | None = Field(None, max_length=254)
    website: str | None = Field(None, max_length=300)
    description: str = Field("", max_length=4000)
    visibility: Literal["public", "association", "hidden"] = "public"

    @field_validator("partita_iva")
    @classmethod
    def _piva(cls, v: str) -> str:
        return normalize_partita_iva(v)

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v and not EMAIL_RE.match(v):
            raise ValueError(_("not a valid e-mail address"))
        return v.lower() if v else None

    @field_validator("website")
    @classmethod
    def _website(cls, v: str | None) -> str | None:
        if v and not URL_RE.match(v):
            raise ValueError(_("not a valid web address"))
        return v or None

    @field_validator("goals")
    @classmethod
    def _goals(cls, v: list[str]) -> list[str]:
        return sorted(set(v))


class FirmPatch(BaseModel):
    """Fields to change on a firm; the partita IVA is its identity and cannot change."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(None, min_length=2, max_length=200)
    legal_form: str | None = Field(None, max_length=60)
    ateco: str | None = Field(None, max_length=12)
    ateco_edition: Literal["2007", "2022", "2025"] | None = None
    ateco_secondary: list[str] | None = Field(None, max_length=10)
    comune_istat: str | None = Field(None, max_length=6)
    comune: str | None = Field(None, max_length=120)
    province: str | None = Field(None, max_length=2)
    employees: int | None = Field(None, ge=0, le=1_000_000)
    turnover_eur: int | None = Field(None, ge=0, le=10**13)
    offers: str | None = Field(None, max_length=4000)
    needs: str | None = Field(None, max_length=4000)
    goals: list[GoalKey] | None = None
    email: str | None = Field(None, max_length=254)
    website: str | None = Field(None, max_length=300)
    description: str | None = Field(None, max_length=4000)
    visibility: Literal["public", "association", "hidden"] | None = None
    version: int | None = Field(None, description="The version you edited; a stale one gets 409")


class FirmOut(BaseModel):
    """A firm as the API returns it: the CSV columns plus derived facts."""

    partita_iva: str
    name: str
    legal_form: str | None
    ateco: str
    ateco_edition: str
    ateco_title: str | None
    ateco_secondary: list[str]
    sector_division: str
    comune_istat: str
    comune: str
    province: str
    region_code: str
    region: str | None
    lat: float
    lng: float
    employees: int | None
    turnover_eur: int | None
    sme_class: str | None
    offers: str
    needs: str
    goals: list[str]
    email: str | None
    website: str | None
    description: str
    visibility: str
    version: int


class FirmPageOut(BaseModel):
    items: list[FirmOut]
    total: int
    page: int
    per_page: int
    pages: int


class FirmInvalid(ValueError):
    """Input that cannot be saved, with one message per field."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors

    def as_detail(self) -> list[dict[str, Any]]:
        """Return FastAPI-style 422 details."""
        return [
            {"loc": ["body", k], "msg": v, "type": "value_error"} for k, v in self.errors.items()
        ]


@dataclass
class FirmData:
    """A validated firm, with its codes and comune resolved against reference data."""

    partita_iva: str
    name: str
    legal_form: str | None
    ateco: Any  # refdata.ateco.AtecoCode
    secondary: list[Any]
    comune: Any  # refdata.places.Comune
    employees: int | None
    turnover_eur: int | None
    offers: str
    needs: str
    goals: list[str]
    email: str | None
    website: str | None
    description: str
    visibility: str
    extra: dict[str, Any] = field(default_factory=dict)


def split_list(value: Any) -> list[str]:
    """Split a `;`-separated CSV cell (or pass a list through), dropping blanks."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    return [p.strip() for p in str(value).replace(",", ";").split(";") if p.strip()]


def coerce_text_input(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Turn a CSV row or an HTML form (all strings) into FirmIn's types."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str):
            value = value.strip()
        if key in ("ateco_secondary", "goals"):
            out[key] = split_list(value)
        elif key in ("employees", "turnover_eur"):
            if value in (None, ""):
                out[key] = None
            else:
                text = str(value).replace(" ", "").replace("\u00a0", "")
                # Accept Italian thousands separators ("1.200.000") and a decimal comma.
                if re.fullmatch(r"-?\d{1,3}(\.\d{3})+(,\d+)?", text):
                    text = text.replace(".", "").replace(",", ".")
                text = text.replace(",", ".")
                try:
                    num = float(text)
                    out[key] = int(num) if num == int(num) else num
                except ValueError:
                    out[key] = value
        elif value == "" and key not in ("partita_iva", "name", "ateco"):
            out[key] = None if key not in ("offers", "needs", "description") else ""
        else:
            out[key] = value
    if out.get("visibility") is None:
        out.pop("visibility", None)
    return out


def _pydantic_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if not isinstance(p, int)]
        key = loc[0] if loc else "__all__"
        msg = e.get("msg", "invalid")
        msg = msg.removeprefix("Value error, ")
        if e.get("type") == "extra_forbidden":
            msg = _("unknown field")
        errors.setdefault(key, msg)
    return errors


def validate_firm(payload: Mapping[str, Any], *, from_text: bool = False) -> FirmData:
    """Validate a firm fully (types, partita IVA, ATECO, comune) or raise FirmInvalid."""
    from matchmaker.refdata import ateco as ateco_ref
    from matchmaker.refdata import places

    data = coerce_text_input(payload) if from_text else dict(payload)
    errors: dict[str, str] = {}
    try:
        model = FirmIn.model_validate(data)
    except ValidationError as exc:
        errors = _pydantic_errors(exc)
        model = None

    edition = data.get("ateco_edition") or None
    if edition not in (None, *EDITIONS):
        edition = None
    primary = None
    if "ateco" not in errors and data.get("ateco"):
        try:
            primary = ateco_ref.parse(str(data["ateco"]), edition)
            if primary.level == "section":
                errors["ateco"] = _("give at least the division (2 digits), not only the section")
        except ateco_ref.AtecoError as exc:
            errors["ateco"] = str(exc)
    elif "ateco" not in errors:
        errors["ateco"] = _("the main ATECO code is required")
    secondary = []
    if "ateco_secondary" not in errors:
        for code in split_list(data.get("ateco_secondary")):
            try:
                sec = ateco_ref.parse(code, edition)
                if sec.level == "section":
                    raise ateco_ref.AtecoError(code)
                secondary.append(sec)
            except ateco_ref.AtecoError as exc:
                errors["ateco_secondary"] = str(exc)
                break

    comune = None
    istat = (data.get("comune_istat") or "").strip() if data.get("comune_istat") else ""
    name = (data.get("comune") or "").strip() if data.get("comune") else ""
    if "comune_istat" not in errors and istat:
        if not re.fullmatch(r"\d{5,6}", istat):
            errors["comune_istat"] = _("must be the 6-digit ISTAT code of a comune")
        else:
            comune = places.get(istat)
            if comune is None and name:
                # An ISTAT code changes when comuni merge; the name and province may still match.
                try:
                    comune = places.find(name, (data.get("province") or None))
                except places.PlaceError:
                    comune = None
            if comune is None:
                errors["comune_istat"] = _("no comune has ISTAT code %(code)s") % {"code": istat}
    elif "comune" not in errors and name:
        try:
            comune = places.find(name, (data.get("province") or None))
        except places.PlaceError as exc:
            errors["comune"] = str(exc)
    elif not errors.get("comune") and not errors.get("comune_istat"):
        errors["comune"] = _("give the comune (name and province) or its ISTAT code")

    if errors or model is None:
        raise FirmInvalid(errors or {"__all__": _("invalid input")})
    return FirmData(
        partita_iva=model.partita_iva,
        name=model.name,
        legal_form=model.legal_form,
        ateco=primary,
        secondary=secondary,
        comune=comune,
        employees=model.employees,
        turnover_eur=model.turnover_eur,
        offers=model.offers or "",
        needs=model.needs or "",
        goals=list(model.goals),
        email=model.email,
        website=model.website,
        description=model.description or "",
        visibility=model.visibility,
    )
