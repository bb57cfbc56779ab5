"""The contract as a document: clauses rendered in a sandbox, then DOCX, PDF and Markdown.

Clause texts come from a clause template (the standard one ships as
`data/standard_template.yaml`); facilitators edit copies of it, so they are rendered in
Jinja2's sandbox. A draft (incomplete or not for signature) carries "BOZZA" on every page.
"""

import io
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from babel.dates import format_date
from babel.numbers import format_currency
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from matchmaker.contracts.schemas import (
    COLLABORATION_FORMS,
    CONTRIBUTION_KINDS,
    FORMS,
    KINDS,
    RULES,
    STANDARD_MODEL_FORMS,
    ContractBody,
)

STANDARD_TEMPLATE_FILE = Path(__file__).parent / "data" / "standard_template.yaml"
WATERMARK = "BOZZA"
WATERMARK_NOTE = "BOZZA – documento non valido per la sottoscrizione"


class ClauseError(ValueError):
    """A clause text or condition that does not compile or render."""


class DocumentUnavailable(RuntimeError):
    """A document format that cannot be produced on this machine (e.g. no PDF engine)."""


@dataclass
class Block:
    kind: str  # "p" or "li"
    text: str


@dataclass
class Article:
    key: str
    title: str
    number: int | None
    blocks: list[Block]

    @property
    def heading(self) -> str:
        """Return the heading: "Art. 3 – Oggetto", or the bare title when unnumbered."""
        return f"Art. {self.number} – {self.title}" if self.number else self.title


@dataclass
class Section:
    key: str
    title: str
    articles: list[Article]


@dataclass
class SignatureBlock:
    party: str
    partita_iva: str
    signer: str
    role: str


@dataclass
class Document:
    title: str
    subtitle: str
    sections: list[Section]
    signatures: list[SignatureBlock]
    signature_note: str
    tax_signer: SignatureBlock | None
    draft: bool
    footer: str
    signed: dict[str, Any] | None = None
    missing: list[str] = field(default_factory=list)

    def text_sections(self) -> list[tuple[str, list[str]]]:
        """Return each section's title and its lines of plain text (for diffs)."""
        out = []
        for s in self.sections:
            lines: list[str] = []
            for a in s.articles:
                lines.append(a.heading)
                lines += [("• " if b.kind == "li" else "") + b.text for b in a.blocks]
            out.append((s.title, lines))
        return out


# --------------------------------------------------------------------- clause library


def load_standard() -> dict[str, Any]:
    """Return the standard clause template shipped with the package, clauses flattened."""
    raw = yaml.safe_load(STANDARD_TEMPLATE_FILE.read_text(encoding="utf-8"))
    clauses = []
    for section in raw["sections"]:
        for clause in section["clauses"]:
            clauses.append({
                "key": clause["key"],
                "section": section["key"],
                "section_title": section["title"],
                "title": clause["title"],
                "numbered": bool(clause.get("numbered", True)),
                "condition": clause.get("condition", "") or "",
                "text": clause["text"],
            })
    return {"key": raw["key"], "name": raw["name"], "number": int(raw["number"]),
            "clauses": clauses}


def _euro(value: Any) -> str:
    if value in (None, ""):
        return ""
    return format_currency(Decimal(str(value)), "EUR", locale="it_IT")


def _data(value: Any) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return format_date(value, format="long", locale="it_IT")


def _regola(value: Any) -> str:
    return RULES.get(str(value), {}).get("it", str(value or ""))


def _elenco(values: Any) -> str:
    items = [str(v) for v in (values or []) if str(v)]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " e " + items[-1]


@lru_cache(maxsize=1)
def _env() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, autoescape=False, undefined=StrictUndefined
    )
    env.filters.update(euro=_euro, data=_data, regola=_regola, elenco=_elenco)
    return env


@lru_cache(maxsize=2048)
def _compiled(text: str) -> Any:
    return _env().from_string(text)


@lru_cache(maxsize=512)
def _compiled_condition(expr: str) -> Any:
    return _env().compile_expression(expr)


def clause_context(body: ContractBody, *, title: str = "") -> dict[str, Any]:
    """Return the variables every clause sees."""
    data = body.model_dump(mode="python")
    names = {p.partita_iva: p.name for p in body.participants}
    return {
        "c": data,
        "titolo": title,
        "soggetto": body.kind == "rete_soggetto",
        "tipo": KINDS[body.kind]["it"],
        "forma": FORMS[body.form]["it"] if body.form else "",
        "modello_standard": body.form is None or body.form in STANDARD_MODEL_FORMS,
        "nome": lambda piva: names.get(piva or "", piva or ""),
        "forme_collaborazione": {k: v["it"] for k, v in COLLABORATION_FORMS.items()},
        "apporti": {k: v["it"] for k, v in CONTRIBUTION_KINDS.items()},
    }


DOUBLE_STOP = re.compile(r"(?<!\.)\.\.(?!\.)")


def _blocks(text: str) -> list[Block]:
    # A name ending in an abbreviation ("S.r.l.") at the end of a sentence: one full stop.
    text = DOUBLE_STOP.sub(".", text)
    out: list[Block] = []
    for chunk in re.split(r"\n\s*\n", text.strip()):
        para: list[str] = []
        for line in chunk.splitlines():
            line = line.strip()
            if not line:
                continue
            if line.startswith("- "):
                if para:
                    out.append(Block("p", " ".join(para)))
                    para = []
                out.append(Block("li", line[2:].strip()))
            else:
                para.append(line)
        if para:
            out.append(Block("p", " ".join(para)))
    # A list closes with a full stop unless the sentence goes on ("…; tutto ciò premesso").
    for i, b in enumerate(out):
        nxt = out[i + 1] if i + 1 < len(out) else None
        closes = nxt is None or (nxt.kind != "li" and not nxt.text[:1].islower())
        if b.kind == "li" and b.text.endswith(";") and closes:
            b.text = b.text[:-1] + "."
    return out


def render_clause(clause: dict[str, Any], ctx: dict[str, Any]) -> list[Block] | None:
    """Render one clause; None when its condition is false."""
    try:
        cond = (clause.get("condition") or "").strip()
        if cond and not _compiled_condition(cond)(**ctx):
            return None
        return _blocks(_compiled(clause["text"]).render(**ctx))
    except TemplateError as exc:
        raise ClauseError(f"{clause.get('key')}: {exc}") from exc


def render_sections(clauses: list[dict[str, Any]], body: ContractBody, *,
                    title: str = "") -> list[Section]:
    """Render every applicable clause, grouped by section, articles numbered in order."""
    ctx = clause_context(body, title=title)
    sections: list[Section] = []
    number = 0
    for clause in clauses:
        blocks = render_clause(clause, ctx)
        if blocks is None:
            continue
        n = None
        if clause.get("numbered", True):
            number += 1
            n = number
        if not sections or sections[-1].key != clause["section"]:
            sections.append(Section(clause["section"], clause["section_title"], []))
        sections[-1].articles.append(Article(clause["key"], clause["title"], n, blocks))
    return sections


def check_clause(text: str, condition: str = "") -> None:
    """Raise ClauseError unless the clause compiles and renders on an empty and a full body."""
    clause = {"key": "clause", "text": text, "condition": condition}
    try:
        _env().from_string(text)
        if condition:
            _env().compile_expression(condition)
    except TemplateError as exc:
        raise ClauseError(str(exc)) from exc
    for body in (ContractBody(), sample_body()):
        try:
            render_clause(clause, clause_context(body, title="Prova"))
        except ClauseError:
            raise
        except Exception as exc:  # a sandbox violation or a bad filter argument
            raise ClauseError(str(exc)) from exc


def sample_body() -> ContractBody:
    """Return a complete rete-soggetto body used to check that edited clauses render."""
    return ContractBody.model_validate({
        "kind": "rete_soggetto",
        "form": "notarial_deed",
        "network": {"name": "Rete Prova", "seat_address": "Via Roma 1", "seat_comune": "Milano",
                    "seat_province": "MI"},
        "participants": [
            {"partita_iva": "00743110157", "name": "Alfa S.r.l.", "rea": "MI-1",
             "registered_office": "Via Uno 1",
             "representative": {"name": "Anna Bianchi", "tax_code": "BNCNNA80A41F205U",
                                "role": "Amministratrice unica"}},
            {"partita_iva": "02876540150", "name": "Beta S.p.A.", "rea": "BG-2",
             "registered_office": "Via Due 2", "joined": "later",
             "representative": {"name": "Marco Rossi", "tax_code": "RSSMRC75C12A794Y",
                                "role": "Presidente"}},
        ],
        "objectives": [{"text": "Obiettivo", "indicators": [
            {"indicator": "Fatturato estero", "baseline": "0", "target": "10%",
             "due_date": "2027-12-31"}]}],
        "programme": {"collaboration_forms": ["collaborate", "exchange", "joint_activity"],
                      "purpose": "Scopo", "activities": [
                          {"title": "Attività", "lead": "00743110157", "stage": "Fase"}],
                      "parties": [{"partita_iva": "00743110157", "rights": "D", "obligations": "O",
                                   "contributions": [{"kind": "money", "value_eur": "1000"}]}]},
        "duration": {"years": 5, "end_date": "2031-12-31", "renewal": "tacit"},
        "accession": {"procedure": "Domanda", "decided_by": "common_body", "requirements": "R"},
        "withdrawal": {"agreed": True, "causes": ["Causa"], "notice_days": 90, "conditions": "C"},
        "common_fund": {"present": True, "amount_eur": "10000", "contributions": [
            {"partita_iva": "00743110157", "amount_eur": "5000", "in_kind": "Macchinario"}],
            "valuation_criteria": "V", "later_contributions": "L", "management_rules": "M",
            "dedicated_asset": True, "dedicated_asset_terms": "T"},
        "common_body": {"present": True, "kind": "board", "board": ["A", "B"],
                        "powers_management": "G", "powers_representation": "R",
                        "acts_for_third_parties": True, "term_years": 3, "replacement": "S"},
        "decisions": {"rules": [{"matter": "Bilancio", "rule": "qualified_majority",
                                 "quorum": "due terzi"}], "voting": "by_fund_share"},
        "programme_amendment": {"by_majority": True, "rule": "qualified_majority",
                                "quorum": "due terzi", "procedure": "P"},
        "staff": {"secondment": True, "co_employment": True, "rules": "R",
                  "unirete_sender": "00743110157"},
        "agriculture": {"agricultural": True, "product_sharing": "Quote"},
        "tax_registration": {"name": "Anna Bianchi", "tax_code": "BNCNNA80A41F205U",
                             "role": "Amministratrice"},
        "disputes": {"forum": "arbitration", "court": "Milano", "mediation": True},
    })


# ------------------------------------------------------------------------ the document


def build_document(
    *,
    body: ContractBody,
    clauses: list[dict[str, Any]],
    title: str,
    draft: bool,
    version: int,
    template_label: str,
    signed: dict[str, Any] | None = None,
    missing: list[str] | None = None,
) -> Document:
    """Assemble the whole document of a contract."""
    sections = render_sections(clauses, body, title=title)
    name = body.network.name
    heading = "CONTRATTO DI RETE" + (f" «{name}»" if name else "")
    subtitle = f"{KINDS[body.kind]['it'].capitalize()} – art. 3, commi 4-ter e seguenti, DL 5/2009"
    signatures = [
        SignatureBlock(p.name, p.partita_iva, p.representative.name or "[legale rappresentante]",
                       p.representative.role or "[carica]")
        for p in body.participants
    ]
    if body.form in STANDARD_MODEL_FORMS:
        article = "25" if body.form == "digital_signatures_authenticated" else "24"
        note = (f"Documento sottoscritto con firma digitale da ciascun Partecipante ai sensi "
                f"dell'art. {article} d.lgs. 82/2005 e trasmesso con il modello standard.")
    elif body.form == "notarial_deed":
        note = "Atto pubblico ricevuto dal Notaio, con numero di repertorio e di raccolta."
    elif body.form == "authenticated_private_deed":
        note = "Firme autenticate dal Notaio in calce alla presente scrittura privata."
    else:
        note = "[forma dell'atto da scegliere]"
    tax = body.tax_registration
    tax_signer = None
    if any(a.key == "registrazione_fiscale" for s in sections for a in s.articles):
        tax_signer = SignatureBlock("", "", tax.name or "[nome e cognome]", tax.role)
    footer = f"Versione {version} · {template_label}"
    return Document(heading, subtitle, sections, signatures, note, tax_signer, draft, footer,
                    signed, list(missing or []))


def _signed_line(signed: dict[str, Any] | None) -> str:
    if not signed:
        return ""
    parts = [f"Sottoscritto il {_data(signed.get('signed_on'))}"]
    form = signed.get("form")
    if form:
        parts.append(f"nella forma di {FORMS[form]['it']}")
    if signed.get("notary"):
        parts.append(f"Notaio {signed['notary']}")
    if signed.get("signers"):
        parts.append("firmatari: " + _elenco(signed["signers"]))
    return "; ".join(parts) + "."


def to_markdown(doc: Document) -> str:
    """Return the document as Markdown."""
    lines: list[str] = []
    if doc.draft:
        lines += [f"> **{WATERMARK}** – documento non valido per la sottoscrizione.", ""]
        if doc.missing:
            lines += ["> Elementi mancanti: " + "; ".join(doc.missing), ""]
    lines += [f"# {doc.title}", "", f"*{doc.subtitle}*", ""]
    for s in doc.sections:
        lines += [f"## {s.title}", ""]
        for a in s.articles:
            if len(s.articles) > 1 or a.title != s.title or a.number:
                lines += [f"### {a.heading}", ""]
            prev = "p"
            for b in a.blocks:
                if b.kind == "li":
                    lines.append(f"- {b.text}")
                else:
                    if prev == "li":
                        lines.append("")
                    lines += [b.text, ""]
                prev = b.kind
            if prev == "li":
                lines.append("")
        if s.key == "sottoscrizioni":
            lines += [doc.signature_note, ""]
            for sig in doc.signatures:
                lines += [f"**Per {sig.party}** (partita IVA {sig.partita_iva})  ",
                          f"{sig.signer}, {sig.role}  ", "Firma: ______________________________",
                          ""]
            if doc.signed:
                lines += [_signed_line(doc.signed), ""]
        if s.key == "registrazione" and doc.tax_signer:
            lines += [f"{doc.tax_signer.signer}  ", "Firma: ______________________________", ""]
    lines += ["---", "", f"*{doc.footer}*", ""]
    return "\n".join(lines)


def to_docx(doc: Document) -> bytes:
    """Return the document as a Word file: headings per section, numbered articles, signatures."""
    from docx import Document as Docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt, RGBColor

    d = Docx()
    styles = d.styles
    styles["Normal"].font.name = "Times New Roman"
    styles["Normal"].font.size = Pt(11)
    core = d.core_properties
    core.title = doc.title
    core.language = "it-IT"
    core.keywords = "contratto di rete; DL 5/2009" + ("; bozza" if doc.draft else "")
    section = d.sections[0]
    if doc.draft:
        head = section.header.paragraphs[0]
        head.text = WATERMARK_NOTE
        head.alignment = WD_ALIGN_PARAGRAPH.CENTER
        for run in head.runs:
            run.bold = True
            run.font.color.rgb = RGBColor(0xB3, 0x26, 0x1E)
    section.footer.paragraphs[0].text = doc.footer

    if doc.draft:
        p = d.add_paragraph()
        run = p.add_run(WATERMARK)
        run.bold = True
        run.font.size = Pt(28)
        run.font.color.rgb = RGBColor(0xB3, 0x26, 0x1E)
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        if doc.missing:
            d.add_paragraph("Elementi mancanti: " + "; ".join(doc.missing))
    d.add_heading(doc.title, level=0)
    sub = d.add_paragraph(doc.subtitle)
    sub.runs[0].italic = True

    for s in doc.sections:
        d.add_heading(s.title, level=1)
        for a in s.articles:
            if a.number or len(s.articles) > 1:
                d.add_heading(a.heading, level=2)
            for b in a.blocks:
                if b.kind == "li":
                    d.add_paragraph(b.text, style="List Bullet")
                else:
                    d.add_paragraph(b.text)
        if s.key == "sottoscrizioni":
            d.add_paragraph(doc.signature_note)
            table = d.add_table(rows=0, cols=2)
            table.style = "Table Grid"
            for sig in doc.signatures:
                cells = table.add_row().cells
                cells[0].text = f"Per {sig.party}\npartita IVA {sig.partita_iva}\n{sig.signer}, {sig.role}"
                cells[1].text = "Firma\n\n______________________________"
            if doc.signed:
                d.add_paragraph(_signed_line(doc.signed))
        if s.key == "registrazione" and doc.tax_signer:
            d.add_paragraph(f"{doc.tax_signer.signer}\nFirma ______________________________")
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def to_html(doc: Document) -> str:
    """Return the document as a standalone HTML page (what the PDF is printed from)."""
    from markupsafe import Markup

    from matchmaker.web import templates

    # The footer goes into a CSS string in @page: keep only characters that are safe there.
    footer_css = Markup(re.sub(r"[^\w\s.,:;()·–/-]", "", doc.footer))
    return templates.env.get_template("contracts/document.html").render(
        doc=doc, footer_css=footer_css, signed_line=_signed_line(doc.signed), watermark=WATERMARK,
        watermark_note=WATERMARK_NOTE,
    )


def to_pdf(doc: Document) -> bytes:
    """Return the document as PDF (WeasyPrint over the HTML rendering)."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: the system's Pango libraries are missing
        raise DocumentUnavailable(
            f"PDF export needs WeasyPrint and the Pango libraries ({exc})"
        ) from exc
    return HTML(string=to_html(doc)).write_pdf()


MEDIA_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
    "md": "text/markdown; charset=utf-8",
}


def render(doc: Document, fmt: str) -> bytes:
    """Return the document in one format: docx, pdf or md."""
    if fmt == "docx":
        return to_docx(doc)
    if fmt == "pdf":
        return to_pdf(doc)
    if fmt == "md":
        return to_markdown(doc).encode("utf-8")
    raise ValueError(f"unknown format {fmt}")
