"""Italian text preprocessing and TF-IDF for needs-vs-offers matching."""

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import numpy as np
import snowballstemmer
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from stop_words import get_stop_words

_WORD = re.compile(r"[a-z0-9]+")
# Words that say nothing about a capability in owners' texts, on top of Italian stop words.
_DOMAIN_STOP = {
    "azienda", "aziende", "impresa", "imprese", "nostro", "nostra", "nostri", "nostre",
    "cerchiamo", "cerco", "offriamo", "offro", "siamo", "servizi", "servizio", "prodotti",
    "prodotto", "partner", "clienti", "cliente", "settore", "attivita", "tipo", "ogni", "anche",
    "molto", "essere", "fare", "come", "sempre", "oltre", "nuovi", "nuove", "nuovo", "nuova",
    "the", "and", "for", "with",
}


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in text if not unicodedata.combining(c))


@lru_cache
def _stop() -> frozenset[str]:
    return frozenset(_fold(w) for w in get_stop_words("it")) | _DOMAIN_STOP


_stemmer = snowballstemmer.stemmer("italian")


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _stemmer.stemWord(word)


def analyze(text: str | None) -> list[str]:
    """Return the stemmed content words of an Italian text (accents, apostrophes folded)."""
    if not text:
        return []
    stop = _stop()
    out = []
    for w in _WORD.findall(_fold(text.replace("'", " ").replace("’", " "))):
        if len(w) < 3 or w in stop or w.isdigit():
            continue
        out.append(_stem(w))
    return out


class TextModel:
    """A TF-IDF space shared by offers and needs, fitted on the registered firms' texts."""

    def __init__(self, min_df: int = 1, max_features: int = 200_000):
        self.vectorizer = TfidfVectorizer(
            analyzer=analyze, min_df=min_df, max_features=max_features, sublinear_tf=True,
            dtype=np.float32,
        )
        self.fitted = False
        self.surface: dict[str, str] = {}

    def fit(self, texts: Iterable[str]) -> "TextModel":
        """Learn the vocabulary and idf weights (texts may be empty)."""
        docs = [t for t in texts if t and t.strip()]
        if not any(analyze(d) for d in docs):
            self.fitted = False
            return self
        self.vectorizer.fit(docs)
        self.fitted = True
        counts: dict[str, dict[str, int]] = {}
        stop = _stop()
        for doc in docs[:50_000]:
            for w in _WORD.findall(_fold(doc.replace("'", " ").replace("’", " "))):
                if len(w) >= 3 and w not in stop and not w.isdigit():
                    bucket = counts.setdefault(_stem(w), {})
                    bucket[w] = bucket.get(w, 0) + 1
        self.surface = {stem: max(words, key=words.get) for stem, words in counts.items()}
        return self

    def transform(self, texts: Iterable[str]) -> sparse.csr_matrix:
        """Return l2-normalized rows (an empty text gives an empty row)."""
        texts = [t or "" for t in texts]
        if not self.fitted:
            return sparse.csr_matrix((len(texts), 1), dtype=np.float32)
        return self.vectorizer.transform(texts).astype(np.float32).tocsr()

    @property
    def dim(self) -> int:
        """Return the vocabulary size (1 when not fitted)."""
        return len(self.vectorizer.vocabulary_) if self.fitted else 1

    def terms(self) -> np.ndarray:
        """Return the vocabulary (stems) in column order."""
        return self.vectorizer.get_feature_names_out() if self.fitted else np.array([""])


def reciprocal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Combine two one-way match scores so that a match both sides want ranks higher."""
    return 0.5 * np.maximum(a, b) + 0.5 * np.sqrt(a * b)


def shared_terms(model: TextModel, q: sparse.csr_matrix, d: sparse.csr_matrix, k: int = 4) -> list[str]:
    """Return the stems that contribute most to the cosine of two rows."""
    if not model.fitted or q.nnz == 0 or d.nnz == 0:
        return []
    prod = q.multiply(d).tocoo()
    order = np.argsort(-prod.data)[:k]
    terms = model.terms()
    stems = [str(terms[prod.col[i]]) for i in order if prod.data[i] > 0]
    return [model.surface.get(s, s) for s in stems]
