"""The needs-vs-offers text component, judged on the hand-labelled Italian set in text_pairs.py.

The model is fitted the way ``features.build_arrays`` fits it: on every firm's offers and
needs together. ``benchmarks/text_matching.py`` prints the same measures for the baselines and
the preprocessing variants that were tried.
"""

import re
import unicodedata

import numpy as np
import pytest
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from matchmaker.matching.text import TextModel, analyze, reciprocal, shared_terms
from tests.matching.text_pairs import (
    EMPTY,
    FIRMS,
    RELEVANT,
    one_sided_pairs,
    ranking_metrics,
    reciprocal_pairs,
)

KEYS = list(FIRMS)
ROW = {k: i for i, k in enumerate(KEYS)}
OFFERS = [FIRMS[k].offers for k in KEYS]
NEEDS = [FIRMS[k].needs for k in KEYS]


@pytest.fixture(scope="module")
def model() -> TextModel:
    return TextModel().fit(OFFERS + NEEDS)


@pytest.fixture(scope="module")
def rows(model: TextModel) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    return model.transform(NEEDS), model.transform(OFFERS)


@pytest.fixture(scope="module")
def similarity(rows) -> np.ndarray:
    """similarity[i, j]: how well firm j's offers satisfy firm i's needs (cosine)."""
    needs, offers = rows
    return (needs @ offers.T).toarray()


def _cosine(model: TextModel, a: str, b: str) -> float:
    x, y = model.transform([a, b])
    return float((x @ y.T).toarray()[0, 0])


# --- Ranking on the labelled set ------------------------------------------------------------

def test_the_set_is_well_formed():
    assert len(FIRMS) >= 60 and len(RELEVANT) >= 40
    for seeker, offerers in RELEVANT.items():
        assert FIRMS[seeker].needs.strip(), seeker
        assert 1 <= len(offerers) <= 3 and seeker not in offerers, seeker
        assert all(FIRMS[o].offers.strip() for o in offerers), seeker
    assert len(reciprocal_pairs()) >= 5 and len(one_sided_pairs()) >= 20


def test_a_relevant_offer_is_in_the_top_3_for_nearly_every_need(similarity):
    """At least 92 % of labelled needs have a relevant offer among their top 3 of 69 firms.

    Measured 0.962 (51 of 53; 0.943 before inflections were merged). The two misses: a
    recycler buying "scarti ... da stampatori" (the moulder writes "stampaggio", no shared
    word) and a haulier needing an "officina" for its "autocarri", whose truck workshop shares
    only "officina" and comes 4th behind firms sharing "convenzioni" and "distributore".
    """
    metrics = ranking_metrics(similarity, KEYS)
    misses = []
    for seeker, offerers in RELEVANT.items():
        row = similarity[ROW[seeker]].copy()
        row[ROW[seeker]] = -1
        top = [KEYS[j] for j in np.argsort(-row, kind="stable")[:3]]
        if not set(top) & set(offerers):
            misses.append(f"{seeker}: top 3 {top}, wanted {offerers}")
    assert metrics["hit"] >= 0.92, "\n".join(misses)


def test_ranking_quality_and_the_gain_over_plain_tfidf(similarity):
    """MRR >= 0.85 (measured 0.891), P@1 >= 0.75 (0.811), recall@3 >= 0.82 (0.871).

    scikit-learn's default TfidfVectorizer (no accent folding, stop words or stemming)
    measures MRR 0.707 on the same set; the Italian preprocessing must stay 0.1 above it.
    """
    metrics = ranking_metrics(similarity, KEYS)
    assert metrics["mrr"] >= 0.85 and metrics["p1"] >= 0.75 and metrics["recall"] >= 0.82, metrics
    plain = TfidfVectorizer().fit([t for t in OFFERS + NEEDS if t.strip()])
    baseline = ranking_metrics((plain.transform(NEEDS) @ plain.transform(OFFERS).T).toarray(), KEYS)
    assert metrics["mrr"] >= baseline["mrr"] + 0.1, (metrics, baseline)


def test_distractors_sharing_a_word_do_not_beat_the_real_supplier(similarity):
    """Electro-zinc plating, ordinary lorries and ceramic inks share words with needs they
    cannot fill; the real supplier must still rank above them."""
    for seeker, good, distractor in [
        ("caseificio", "trasporti_frigo", "trasporti_lombardia"),  # cold chain vs lorries
        ("carpenteria", "verniciatura_polveri", "galvanica"),  # "zincheria a caldo" vs zinc plating
        ("pelletteria", "conceria", "minuteria_metallica"),  # buckles vs screws and hinges
        ("lenti_ottiche", "occhialeria", "minuteria_metallica"),
    ]:
        i = ROW[seeker]
        assert similarity[i, ROW[good]] > similarity[i, ROW[distractor]], seeker


# --- Accents, apostrophes, plurals ----------------------------------------------------------

@pytest.mark.parametrize("written, variant", [
    ("qualità", "qualita"),
    ("qualità", "QUALITA'"),  # accent typed as an apostrophe
    ("qualità", "qualita`"),
    ("qualità", unicodedata.normalize("NFD", "qualità")),  # decomposed accent (macOS input)
    ("Città", "CITTA"),
    ("vernici", "vernice"),
    ("dell'imbottito", "imbottito"),
    ("dell’imbottito", "imbottiti"),  # typographic apostrophe and plural
    ("l'acqua", "acque"),
    ("polvere", "polveri"),
    ("cantiere", "cantieri"),
    ("camera", "camere"),
    ("cerniera", "cerniere"),
    ("pastificio", "pastifici"),
    ("calzaturificio", "calzaturifici"),
    ("particolare", "particolari"),
    ("tessuto", "tessuti"),
    ("consegna", "consegne"),
])
def test_spelling_and_inflection_variants_are_one_term(written, variant):
    """The variant matches fully even when only the first form was seen when fitting."""
    model = TextModel().fit([written, "tessitura di lino", "pasta secca"])
    assert _cosine(model, written, variant) == pytest.approx(1.0, abs=1e-5)


def test_accents_and_apostrophes_fold_the_same_way_in_analyze():
    assert analyze("qualità") == analyze("qualita'") == analyze("QUALITA") == ["qual"]
    assert analyze("dell'imbottito") == analyze("dell’imbottito") == analyze("imbottiti")
    assert analyze("vernici") == analyze("vernice")


def test_a_verb_need_meets_a_noun_offer():
    """'chi vernicia a polvere' finds 'verniciatura a polveri', and the shared word shows."""
    model = TextModel().fit(OFFERS + NEEDS)
    need = "Cerchiamo chi vernicia a polvere i telai delle sedie"
    offer = FIRMS["verniciatura_polveri"].offers
    assert _cosine(model, need, offer) > 0.1
    q, d = model.transform([need, offer])
    assert {"polvere", "polveri"} & set(shared_terms(model, q, d))


@pytest.mark.parametrize("a, b", [
    ("tappi", "tappeti"),  # corks vs carpets
    ("torri", "torroni"),
    ("materie", "matite"),
    ("porte", "portieri"),
])
def test_words_that_only_look_alike_stay_apart(a, b):
    model = TextModel().fit([a, b, "tessitura di lino"])
    assert _cosine(model, a, b) == 0.0


# --- Empty texts ------------------------------------------------------------------------------

def test_empty_texts_in_the_set_score_zero(similarity):
    for i, key in enumerate(KEYS):
        if not FIRMS[key].needs.strip() or key in EMPTY:
            assert not similarity[i].any(), key
        if not FIRMS[key].offers.strip() or key in EMPTY:
            assert not similarity[:, i].any(), key


@pytest.mark.parametrize("corpus", [
    [], [""], ["", "   ", None], ["Siamo un'azienda.", "Cerchiamo partner, dal 2024!"],
])
def test_a_corpus_with_nothing_to_learn_gives_an_unfitted_model_and_zero_scores(corpus):
    model = TextModel().fit(corpus)
    assert not model.fitted and model.dim == 1 and list(model.terms()) == [""]
    x = model.transform(["Verniciatura a polveri", "", None])
    assert x.shape == (3, 1) and x.nnz == 0
    assert shared_terms(model, x[0], x[0]) == []


def test_empty_texts_against_a_fitted_model(model):
    blank = model.transform(["", None, "   ", "Cerchiamo partner.", "...", "2024"])
    assert blank.shape == (6, model.dim) and blank.nnz == 0
    some = model.transform([FIRMS["verniciatura_polveri"].offers])
    assert not (blank @ some.T).toarray().any()
    assert shared_terms(model, blank[0], some[0]) == []
    assert analyze(None) == analyze("") == analyze("  ") == []
    zero = np.zeros(3, dtype=np.float32)
    assert not reciprocal(zero, zero).any()


# --- Reciprocity --------------------------------------------------------------------------------

def test_reciprocal_rewards_a_match_both_sides_want():
    x = np.array([0.05, 0.2, 0.5, 0.9, 1.0], dtype=np.float32)
    for y in (0.01, 0.1, 0.5, 1.0):
        both = reciprocal(x, np.full_like(x, y))
        assert np.all(both > reciprocal(x, np.zeros_like(x)))
        assert np.allclose(both, reciprocal(np.full_like(x, y), x))
        assert np.all((both >= 0) & (both <= 1))
    assert reciprocal(np.float32(1), np.float32(1)) == pytest.approx(1.0)


def test_a_reciprocal_match_outranks_a_one_sided_one_of_the_same_strength(model, similarity):
    """For each labelled reciprocal pair (a, b) the model sees both ways, b and a copy of b with
    the same offers but no needs serve a's needs equally well; b also needs what a offers, so b
    must score higher for a (and the same with the roles swapped).

    The model sees 12 of the 13 labelled pairs both ways; riciclo_plastica's need for
    "sfridi ... da stampatori" shares no word with stampaggio_plastica's offers.
    """
    seen = [(a, b) for a, b in reciprocal_pairs()
            if similarity[ROW[a], ROW[b]] > 0 and similarity[ROW[b], ROW[a]] > 0]
    assert len(seen) >= 12
    for a, b in seen:
        for seeker, partner in ((a, b), (b, a)):
            s, p = FIRMS[seeker], FIRMS[partner]
            seek_needs, seek_offers = model.transform([s.needs, s.offers])
            cand_offers = model.transform([p.offers, p.offers])
            cand_needs = model.transform([p.needs, ""])
            they = (cand_offers @ seek_needs.T).toarray().ravel()
            we = (cand_needs @ seek_offers.T).toarray().ravel()
            assert they[0] == pytest.approx(they[1]) and they[0] > 0
            assert we[0] > 0 and we[1] == 0
            score = reciprocal(they, we)
            assert score[0] > score[1], (seeker, partner)


# --- Explanations -----------------------------------------------------------------------------

def _written_words() -> set[str]:
    words = set()
    for text in OFFERS + NEEDS:
        clean = unicodedata.normalize("NFC", text.replace("'", " ").replace("’", " ").lower())
        words.update(re.findall(r"[^\W_]+", clean))
    return words


def test_shared_terms_are_words_people_wrote(model, rows):
    """For every labelled pair that scores, the explanation lists 1-4 whole words as written in
    the profiles (accents kept), each standing for a stem both texts contain."""
    needs, offers = rows
    written = _written_words()
    explained = 0
    for seeker, offerers in RELEVANT.items():
        for offerer in offerers:
            q, d = needs[ROW[seeker]], offers[ROW[offerer]]
            if (q @ d.T).toarray()[0, 0] <= 0:
                continue
            terms = shared_terms(model, q, d)
            assert 1 <= len(terms) <= 4, (seeker, offerer)
            both = set(model.analyze(NEEDS[ROW[seeker]])) & set(model.analyze(OFFERS[ROW[offerer]]))
            for term in terms:
                assert term in written, (seeker, offerer, term)
                assert model.analyze(term)[0] in both, (seeker, offerer, term)
            explained += 1
    assert explained >= 60


def test_shared_terms_keep_accents_and_show_whole_words():
    model = TextModel().fit([
        "Controllo qualità e certificazione delle lavorazioni",
        "Cerchiamo un terzista di qualità per le lavorazioni meccaniche",
        "Verniciatura a polveri epossidiche", "Tessitura jacquard",
    ])
    q, d = model.transform(["Cerchiamo un terzista di qualità per le lavorazioni meccaniche",
                            "Controllo qualità e certificazione delle lavorazioni"])
    terms = shared_terms(model, q, d)
    assert set(terms) == {"qualità", "lavorazioni"}
