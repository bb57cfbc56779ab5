"""ATECO reference data: parsing, editions, search, hierarchy and conversions."""

import time

import ateco as ateco_pkg
import pytest

from matchmaker.refdata import ateco
from matchmaker.refdata.ateco import AtecoError


@pytest.mark.parametrize("raw", ["25.62.00", "256200", " 256200 ", "\t25.62.00\n"])
def test_compact_and_dotted_codes_normalize_to_the_same_subcategory(raw: str) -> None:
    code = ateco.parse(raw, "2022")
    assert code.code == "25.62.00"
    assert code.level == "subcategory"
    assert code.edition == "2022"


@pytest.mark.parametrize(
    ("raw", "dotted", "level"),
    [("c", "C", "section"), ("25", "25", "division"), ("256", "25.6", "group"),
     ("2562", "25.62", "class"), ("25620", "25.62.0", "category")],
)
def test_every_level_parses_from_compact_form(raw: str, dotted: str, level: str) -> None:
    code = ateco.parse(raw)
    assert (code.code, code.level) == (dotted, level)


def test_same_code_means_different_things_per_edition() -> None:
    assert ateco.parse("25.62", "2022").title == "Lavori di meccanica generale"
    assert ateco.parse("25.62", "2025").title == "Fabbricazione di serrature e cerniere"


def test_without_edition_2025_wins_then_2022_then_2007() -> None:
    assert ateco.parse("25.62").edition == "2025"
    # 01.13.21 was introduced by the 2022 update and is gone in 2025.
    assert ateco.parse("01.13.21").edition == "2022"
    # 97.00.00 exists only in ATECO 2007.
    assert ateco.parse("970000").edition == "2007"


def test_explicit_edition_wins_even_if_code_missing_there() -> None:
    with pytest.raises(AtecoError) as err:
        ateco.parse("97.00.00", "2025")
    assert "97.00.00" in str(err.value) and "2025" in str(err.value)
    assert "2007" not in str(err.value)


def test_unknown_code_error_names_code_and_editions_tried() -> None:
    with pytest.raises(AtecoError) as err:
        ateco.parse("99.99.99")
    message = str(err.value)
    assert "99.99.99" in message
    for edition in ("2025", "2022", "2007"):
        assert edition in message


@pytest.mark.parametrize("raw", ["", "  ", "abc", "25.6.2", "1234567", "25-62"])
def test_malformed_codes_raise_clear_error(raw: str) -> None:
    with pytest.raises(AtecoError, match="malformed ATECO code"):
        ateco.parse(raw)


def test_unknown_edition_is_an_error() -> None:
    with pytest.raises(AtecoError, match="unknown ATECO edition"):
        ateco.parse("25.62", "2099")


def test_lookup_returns_none_instead_of_raising() -> None:
    assert ateco.lookup("99.99.99") is None
    assert ateco.lookup("not a code") is None
    assert ateco.lookup("2562", "2022").title == "Lavori di meccanica generale"


def test_atecoerror_is_a_valueerror() -> None:
    assert issubclass(AtecoError, ValueError)


def test_english_label_for_a_class() -> None:
    assert ateco.parse("62.10", "2025").title_en == "Computer programming activities"
    assert ateco.parse("25.62", "2025").title_en == "Manufacture of locks and hinges"
    # A 2022 class that maps one-to-one gets the English label of its 2025 counterpart.
    assert ateco.parse("62.01", "2022").title_en == "Computer programming activities"
    # No English label below class level.
    assert ateco.parse("62.10.00", "2025").title_en is None


def test_fields_division_section_and_sector_key() -> None:
    code = ateco.parse("25.62.00", "2025")
    assert (code.division, code.section, code.sector_division) == ("25", "C", "25")
    section = ateco.parse("C", "2025")
    assert section.division is None and section.section == "C"
    # 2025 62.10 (programming) is 62.01 in 2022: same sector division.
    assert ateco.parse("62.10", "2025").sector_division == "62"
    # 2022 codes are their own sector key.
    assert ateco.parse("25.62.00", "2022").sector_division == "25"


def test_sector_division_takes_the_most_frequent_2022_division() -> None:
    # 15.20.10 (2025) maps to 15.20.10, 16.29.11, 22.19.01, 22.29.01 in 2022: 22 wins.
    assert ateco.convert("15.20.10", "2025", "2022").ambiguous
    assert ateco.parse("15.20.10", "2025").sector_division == "22"


def test_every_2025_code_below_section_has_a_sector_division() -> None:
    keys = {d.code for d in ateco.divisions()}
    for code in ateco.all_codes("2025"):
        if code.level == "section":
            assert code.sector_division is None
        else:
            assert code.sector_division in keys, code


def test_convert_2025_to_2022() -> None:
    conv = ateco.convert("25.62.00", "2025", "2022")
    assert conv.source == "25.62.00"
    assert conv.targets == ("25.72.00",)
    assert not conv.ambiguous
    assert ateco.convert("6210", "2025", "2022").targets == ("62.01",)


def test_convert_ambiguous_keeps_all_targets() -> None:
    conv = ateco.convert("03.30.00", "2025", "2022")
    assert conv.ambiguous
    assert len(conv.targets) > 1
    assert set(conv.targets) == set(ateco_pkg.map_code("03.30.00", "2025", "2022").targets)


def test_convert_2007_2022_is_identity_when_the_code_exists() -> None:
    conv = ateco.convert("25.62.00", "2007", "2022")
    assert conv.targets == ("25.62.00",)
    assert "identity" in conv.note


def test_convert_2007_code_split_in_2022() -> None:
    conv = ateco.convert("97.00.00", "2007", "2022")
    assert conv.targets == ("97.00.01", "97.00.02")
    assert conv.ambiguous


def test_convert_2007_to_2025_chains_through_2022() -> None:
    conv = ateco.convert("62.01.00", "2007", "2025")
    assert conv.targets == ateco.convert("62.01.00", "2022", "2025").targets
    assert "2022" in conv.note


def test_convert_rejects_code_unknown_in_source_edition() -> None:
    with pytest.raises(AtecoError):
        ateco.convert("01.13.21", "2025", "2022")


def test_conversion_agrees_with_the_ateco_package() -> None:
    for code in list(ateco.all_codes("2025"))[::25]:
        expected = ateco_pkg.map_code(code.code, "2025", "2022").targets
        assert ateco.convert(code.code, "2025", "2022").targets == expected
    for code in list(ateco.all_codes("2022"))[::25]:
        expected = ateco_pkg.map_code(code.code, "2022", "2025").targets
        assert ateco.convert(code.code, "2022", "2025").targets == expected


def test_search_is_case_and_accent_insensitive() -> None:
    plain = [c.code for c in ateco.search("attivita di programmazione informatica")]
    accented = [c.code for c in ateco.search("ATTIVITÀ DI PROGRAMMAZIONE INFORMATICA")]
    assert plain == accented
    assert "62.10" in plain


def test_search_code_prefix_first_and_shorter_codes_first() -> None:
    hits = ateco.search("25.6", edition="2025")
    codes = [c.code for c in hits]
    assert codes[0] == "25.6"
    assert all(code.startswith("25.6") for code in codes)
    assert [len(c) for c in codes] == sorted(len(c) for c in codes)
    assert [c.code for c in ateco.search("2562")][:3] == ["25.62", "25.62.0", "25.62.00"]


def test_search_requires_every_word_and_respects_edition_and_limit() -> None:
    hits = ateco.search("meccanica generale", edition="2022", limit=3)
    assert len(hits) == 3
    assert [h.code for h in hits[:2]] == ["25.6", "25.62"]
    assert all(h.edition == "2022" for h in hits)
    assert ateco.search("serrature cerniere", edition="2025")[0].code == "25.62"
    assert ateco.search("zzzz nonexistent") == []


def test_children_and_ancestors() -> None:
    assert [c.code for c in ateco.children("25.6", "2022")] == ["25.61", "25.62"]
    chain = ateco.ancestors("25.62.00", "2022")
    assert [c.code for c in chain] == ["C", "25", "25.6", "25.62", "25.62.0"]
    assert [c.level for c in chain] == list(ateco.LEVELS[:5])


def test_all_codes_and_divisions() -> None:
    assert sum(1 for _ in ateco.all_codes("2025")) == 3257
    classes = list(ateco.all_codes("2022", "class"))
    assert len(classes) == 615 and all(c.level == "class" for c in classes)
    divisions = ateco.divisions()
    assert len(divisions) == 88
    assert all(len(d.code) == 2 and d.code.isdigit() and d.title for d in divisions)


def test_repeated_calls_are_fast_once_loaded() -> None:
    list(ateco.all_codes("2025"))
    start = time.perf_counter()
    for _ in range(100):
        ateco.parse("25.62.00")
    list(ateco.all_codes("2025"))
    assert time.perf_counter() - start < 0.1
