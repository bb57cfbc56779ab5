"""The documents: DOCX opened with python-docx, PDF read with pypdf, Markdown; conditional
sections, the BOZZA watermark, and the export blocked until the checklist is complete."""

import io

import pytest
from docx import Document as Docx
from pypdf import PdfReader

from matchmaker.cli import main
from matchmaker.contracts import cli as contracts_cli
from matchmaker.contracts import documents, service
from tests.contracts.helpers import cf, complete_changes, complete_contract, make_firms


def _docx(content: bytes) -> tuple[str, list[tuple[str, str]], str]:
    doc = Docx(io.BytesIO(content))
    paragraphs = [(p.style.name, p.text) for p in doc.paragraphs]
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    header = "\n".join(p.text for s in doc.sections for p in s.header.paragraphs)
    text = "\n".join([t for _s, t in paragraphs] + cells)
    return text, paragraphs, header


def _required_data(c) -> list[str]:
    """The participants' register data and every required element's content."""
    body = c.body
    out = []
    for p in body["participants"]:
        r = p["representative"]
        out += [p["name"], p["partita_iva"], p["rea"], p["registered_office"], r["name"],
                r["tax_code"], r["role"]]
    out += [body["network"]["name"], body["network"]["seat_address"],
            body["objectives"][0]["text"], body["objectives"][0]["indicators"][0]["indicator"],
            "500.000 EUR", "31 dicembre 2028", body["programme"]["purpose"],
            body["programme"]["activities"][0]["title"],
            body["programme"]["parties"][0]["obligations"], "5 anni",
            body["accession"]["procedure"], "Approvazione del rendiconto",
            body["tax_registration"]["tax_code"]]
    return out


@pytest.fixture()
def soggetto(db, make_user):
    fac = make_user("facilitator")
    firms = make_firms(db, 3)
    return complete_contract(db, fac, firms, soggetto=True, form="digital_signatures_authenticated")


def test_docx_has_every_required_element_headings_articles_and_signatures(db, soggetto) -> None:
    content = service.export_document(db, contract=soggetto, fmt="docx", draft=False)
    text, paragraphs, header = _docx(content)
    for needle in _required_data(soggetto):
        assert needle in text, needle
    assert "30.000,00" in text  # the fund, in Italian notation
    assert "Poteri di rappresentanza: Rappresenta la rete verso terzi" in text
    assert "art. 2614" not in text and "artt. 2614 e 2615" in text  # fund acting for third parties
    headings1 = [t for s, t in paragraphs if s == "Heading 1"]
    assert headings1[:4] == ["Le parti", "Costituzione e oggetto",
                             "Obiettivi strategici e misurazione", "Programma di rete"]
    assert "Fondo patrimoniale comune" in headings1 and "Organo comune" in headings1
    assert "Impegno alla registrazione fiscale" in headings1
    articles = [t for s, t in paragraphs if s == "Heading 2" and t.startswith("Art. ")]
    assert [int(a.split()[1]) for a in articles] == list(range(1, len(articles) + 1))
    signatures = Docx(io.BytesIO(content)).tables[0]
    assert len(signatures.rows) == 3
    for row, p in zip(signatures.rows, soggetto.body["participants"], strict=True):
        assert p["name"] in row.cells[0].text and p["representative"]["name"] in row.cells[0].text
    assert "BOZZA" not in text and "BOZZA" not in header
    assert "art. 25 d.lgs. 82/2005" in text


def test_conditional_sections_appear_only_when_they_apply(db, make_user) -> None:
    fac = make_user("facilitator")
    c = complete_contract(db, fac, make_firms(db, 2), fund=False, body=False)
    text, paragraphs, _h = _docx(service.export_document(db, contract=c, fmt="docx", draft=False))
    titles = [t for s, t in paragraphs if s.startswith("Heading")]
    for absent in ("Fondo patrimoniale comune", "Organo comune", "Recesso",
                   "Modifica del programma a maggioranza", "Distacco e codatorialità",
                   "Ripartizione del prodotto", "Patrimonio destinato"):
        assert not any(absent in t for t in titles), absent
    assert "rete-contratto" in text and "soggettività giuridica con l'iscrizione" not in text
    assert "Impegno alla registrazione fiscale" not in titles  # a notarial deed: no undertaking
    service.update_contract(db, contract=c, changes={
        "withdrawal": {"agreed": True, "causes": ["Cessazione dell'attività"], "notice_days": 60},
        "staff": {"secondment": True}}, expected_version=c.version, author=fac)
    text, paragraphs, _h = _docx(service.export_document(db, contract=c, fmt="docx", draft=False))
    titles = [t for s, t in paragraphs if s.startswith("Heading")]
    assert any("Recesso" in t for t in titles) and any("Distacco" in t for t in titles)
    assert "Cessazione dell'attività" in text and "60 giorni" in text


def test_pdf_has_the_participants_data_and_a_draft_says_bozza(db, soggetto) -> None:
    pdf = service.export_document(db, contract=soggetto, fmt="pdf", draft=False)
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    flat = " ".join(text.split())
    for needle in _required_data(soggetto):
        assert " ".join(needle.split()) in flat, needle
    assert "BOZZA" not in flat
    draft = service.export_document(db, contract=soggetto, fmt="pdf", draft=True)
    pages = PdfReader(io.BytesIO(draft)).pages
    assert all("BOZZA" in p.extract_text() for p in pages)


def test_draft_is_always_possible_and_watermarked_final_is_blocked(db, make_user) -> None:
    fac = make_user("facilitator")
    firms = make_firms(db, 2)
    c = service.create_contract(db, author=fac, partite_iva=[f.partita_iva for f in firms])
    changes = complete_changes(c)
    changes["duration"] = {"years": None}
    service.update_contract(db, contract=c, changes=changes, expected_version=1, author=fac)
    with pytest.raises(service.ContractIncomplete) as err:
        service.export_document(db, contract=c, fmt="docx", draft=False)
    assert err.value.blocking == ["Duration (art. 3, comma 4-ter, lett. d), DL 5/2009)"]
    text, _p, header = _docx(service.export_document(db, contract=c, fmt="docx", draft=True))
    assert "BOZZA" in header and text.startswith("BOZZA")
    assert "Elementi mancanti: Duration" in text and "[durata]" in text
    md = service.export_document(db, contract=c, fmt="md", draft=True).decode()
    assert md.startswith("> **BOZZA**") and "\n## Le parti\n" in md


def test_markdown_lists_articles_and_signature_blocks(db, soggetto) -> None:
    md = service.export_document(db, contract=soggetto, fmt="md", draft=False).decode()
    assert md.startswith("# CONTRATTO DI RETE «Rete Brianza Arredo»")
    assert "### Art. 1 – Valore delle premesse" in md
    for p in soggetto.body["participants"]:
        assert f"**Per {p['name']}** (partita IVA {p['partita_iva']})" in md
    assert f"codice fiscale {cf(0)}" in md


def test_cli_exports_the_document_and_refuses_an_incomplete_one(db, make_user, monkeypatch,
                                                               tmp_path, capsys) -> None:
    monkeypatch.setattr(contracts_cli, "open_session", db.info["test_factory"])
    fac = make_user("facilitator")
    firms = make_firms(db, 2)
    c = complete_contract(db, fac, firms)
    out = tmp_path / "contratto.docx"
    assert main(["contracts", "export", str(c.id), "--format", "docx", "-o", str(out)]) == 0
    text, _p, _h = _docx(out.read_bytes())
    assert firms[0].name in text
    incomplete = service.create_contract(db, author=fac, partite_iva=[f.partita_iva
                                                                      for f in firms])
    assert main(["contracts", "export", str(incomplete.id), "--format", "md",
                 "-o", str(tmp_path / "x.md")]) == 1
    err = capsys.readouterr().err
    assert "not ready for signature" in err and "Duration" in err and "--draft" in err
    assert main(["contracts", "export", str(incomplete.id), "--format", "md", "--draft",
                 "-o", str(tmp_path / "x.md")]) == 0
    assert (tmp_path / "x.md").read_text().startswith("> **BOZZA**")


def test_edited_clauses_render_in_the_sandbox_only() -> None:
    with pytest.raises(documents.ClauseError):
        documents.check_clause("{{ c.__class__.__mro__ }}")
    with pytest.raises(documents.ClauseError):
        documents.check_clause("{{ nonexistent_variable }}")
    documents.check_clause("Le Parti sono {{ c.participants | length }}.", "soggetto")
