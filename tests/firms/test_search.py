"""Full-text search of the registry: word prefixes over name, comune, offers and needs, kept in
step with every save and delete, on a migrated database as on a fresh one."""

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from matchmaker import migrate
from matchmaker.firms import service
from matchmaker.firms.schemas import validate_firm
from tests.conftest import fresh_database_url, is_postgres
from tests.firms.helpers import firm_payload, piva


def _create(db, serial, **over):
    return service.create_firm(db, data=validate_firm(firm_payload(serial, **over)))


def _names(db, q):
    page = service.list_firms(db, filters=service.FirmFilters(q=q), per_page=50)
    return sorted(f.name for f in page.items)


def _fixture(db):
    _create(db, 1, name="Segheria Rossi", offers="Legnami di abete e travi lamellari",
            needs="Trasporti verso la Germania")
    _create(db, 2, name="Oleificio Bianchi", offers="Olio extravergine di oliva",
            needs="Bottiglie di vetro")
    _create(db, 3, name="Raffineria Verdi", offers="Petrolio raffinato e lubrificanti",
            needs="Manutenzione impianti")
    _create(db, 4, name="Mobilificio Neri", offers="Mobili su misura in legno massello",
            needs="Vernici all'acqua")


def test_words_match_as_prefixes_of_words_not_inside_them(db):
    _fixture(db)
    assert _names(db, "legn") == ["Mobilificio Neri", "Segheria Rossi"]  # legno, legnami
    assert _names(db, "olio") == ["Oleificio Bianchi"]  # not "petrolio"
    assert _names(db, "LAMELLARI") == ["Segheria Rossi"]


def test_every_word_must_match_in_any_of_the_four_fields(db):
    _fixture(db)
    assert _names(db, "mobili legno") == ["Mobilificio Neri"]
    assert _names(db, "legno germania") == []  # no firm has both
    assert _names(db, "legnami germania") == ["Segheria Rossi"]  # offers + needs
    assert _names(db, "segheria lissone") == ["Segheria Rossi"]  # name + comune


def test_punctuation_and_apostrophes_do_not_break_the_search(db):
    _fixture(db)
    assert _names(db, "vernici all'acqua") == ["Mobilificio Neri"]
    assert _names(db, '"olio" OR * (extra') == []  # operators are words, not syntax
    assert _names(db, "%%") == []


def test_partita_iva_finds_the_firm(db):
    _fixture(db)
    assert _names(db, "IT " + piva(3)) == ["Raffineria Verdi"]


def test_saves_and_deletes_update_the_search(db):
    _fixture(db)
    firm = next(f for f in service.list_firms(db, filters=service.FirmFilters(q="oleificio")).items)
    service.patch_firm(db, firm=firm, changes={"offers": "Formaggi stagionati"})
    db.flush()
    assert _names(db, "olio") == []
    assert _names(db, "formaggi") == ["Oleificio Bianchi"]
    service.delete_firm(db, firm=firm)
    db.flush()
    assert _names(db, "formaggi") == []
    assert _names(db, "oleificio") == []


def test_accents_do_not_matter_on_sqlite(db):
    if is_postgres():
        return  # PostgreSQL's 'simple' configuration keeps accents (no unaccent extension)
    _create(db, 5, name="Caffè Perché", offers="Torrefazione artigianale")
    assert _names(db, "caffe perche") == ["Caffè Perché"]


def test_the_migration_indexes_firms_already_in_the_database():
    url = fresh_database_url("search")
    migrate.upgrade("0001", url=url)
    engine = create_engine(url)
    try:
        with Session(engine) as s:
            _create(s, 7, name="Tessitura Gialli", offers="Tessuti jacquard")
            s.commit()
        migrate.upgrade("head", url=url)
        with Session(engine) as s:
            assert _names(s, "jacquard") == ["Tessitura Gialli"]
            _create(s, 8, name="Filatura Gialli", offers="Filati pettinati")
            s.commit()
            assert _names(s, "gialli") == ["Filatura Gialli", "Tessitura Gialli"]
        migrate.downgrade("0001", url=url)
        with engine.connect() as conn:
            names = conn.execute(text(
                "SELECT count(*) FROM firm")).scalar_one()
        assert names == 2  # the downgrade drops the index, never the firms
    finally:
        engine.dispose()
