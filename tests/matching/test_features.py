"""Index arrays: the shortcuts taken at build and explanation time give the plain results."""

import numpy as np

from matchmaker.matching.features import FirmRecord, build_arrays, local_radii
from matchmaker.matching.fit import seed_query
from matchmaker.matching.model import load_model
from matchmaker.matching.scoring import code_features, io_link_matrix, subfeatures
from matchmaker.matching.text import TextModel

OFFERS = ["Verniciatura a polvere di profilati", "", "Tessuti tecnici e finissaggio",
          "Pasta fresca e prodotti da forno", "   "]
NEEDS = ["Fornitori di polveri e vernici", "Un partner per l'export", "",
         "Farina di grano duro biologica", "Imballaggi sostenibili"]


def test_fit_transform_is_fit_then_transform():
    plain = TextModel().fit(OFFERS + NEEDS)
    once = TextModel()
    offers, needs = once.fit_transform(OFFERS, NEEDS)
    for got, texts in ((offers, OFFERS), (needs, NEEDS)):
        want = plain.transform(texts)
        assert got.shape == want.shape and (got != want).nnz == 0 and got.dtype == want.dtype
    assert list(once.terms()) == list(plain.terms())
    assert once.surface == plain.surface and once.inflections == plain.inflections
    # Afterwards it analyses raw texts again, as a fitted model does.
    assert (once.transform(["vernici a polvere"]) != plain.transform(["vernici a polvere"])).nnz == 0
    empty = TextModel()
    assert [m.shape for m in empty.fit_transform(["", " "], [""])] == [(2, 1), (1, 1)]
    assert not empty.fitted


def test_radii_for_several_k_are_each_k_alone():
    count = np.zeros(7896, dtype=np.int32)
    count[[10, 500, 501, 3000, 7000]] = [30, 5, 50, 1, 200]
    both = local_radii(count, (20, 100))
    assert np.array_equal(both[0], local_radii(count, (20,))[0])
    assert np.array_equal(both[1], local_radii(count, (100,))[0])
    assert (both[1] >= both[0]).all()
    assert (local_radii(count, (10_000,))[0] == 300.0).all()


def test_explanation_features_take_the_best_of_primary_and_secondary_codes():
    codes = ["25.62", "13.30", "16.23", "10.71", "20.30"]
    recs = [FirmRecord(id=i + 1, partita_iva=f"{i + 1:011d}", name=f"F{i}",
                       ateco_code=codes[i % 5], ateco_edition="2022", comune_istat="015146",
                       secondary=(((codes[(i + 1) % 5], "2022"), (codes[(i + 3) % 5], "2022"))
                                  if i % 4 == 0 else ()))
            for i in range(40)]
    a = build_arrays(recs)
    model = load_model()
    io = io_link_matrix(None, None, model.io_scale, len(model.divisions))
    q = seed_query(a, 1)
    cf = code_features(a, q, model, io)
    rows = np.array([0, 4, 5, 8, 8, 12, 3])
    got = subfeatures(a, q, model, io, rows)
    last = {int(r): i for i, r in enumerate(rows)}
    for name, per_code in cf.items():
        want = per_code[a.code_row[rows]].copy()
        for i, r in enumerate(rows):
            if last[int(r)] == i:  # a row listed twice gets its secondary codes once, last
                for c in a.sec_code[a.sec_row == r]:
                    want[i] = max(want[i], per_code[c])
        assert np.array_equal(got[name], want), name
    primary = cf["same_code"][a.code_row[rows]]
    assert (got["same_code"] > primary).any()  # some secondary code counted
    assert got["same_code"][4] > primary[4] and got["same_code"][3] == primary[3]  # row 8 twice
