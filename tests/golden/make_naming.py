#!/usr/bin/python3
"""Writes tests/golden/naming.json: scikit-learn's n-gram counts, tf-idf values and scores for tests/NamingTests.fs
(the tests never run Python).

Run with Debian's python3-sklearn (1.2):  python3 tests/golden/make_naming.py

- "docs": small traces (layer names between the markers [INPUT] and [OUTPUT], as DARA's 2-grams see a chain);
  "terms" and "df": CountVectorizer(ngram_range=(2, 2), token_pattern=r"\\S+", lowercase=False) vocabulary and document
  frequencies; "counts" and "tfidf": each document's row (dense) of the counts and of TfidfTransformer() (smooth idf,
  l2 rows) over those counts.
- "truth", "predicted": seeded class labels; "accuracy" and "macro_f1": accuracy_score and f1_score(average="macro").
"""
import json
import os

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
from sklearn.metrics import accuracy_score, f1_score

DOCS = [
    "conv2d batchnorm2d relu conv2d batchnorm2d relu linear",
    "embedding layernorm linear geluactivation linear add layernorm linear geluactivation linear add layernorm",
    "conv2d relu maxpool2d conv2d relu maxpool2d flatten linear relu linear",
    "embedding layernorm linear newgeluactivation linear add layernorm linear",
    "conv2d batchnorm2d relu add relu conv2d batchnorm2d relu add relu adaptiveavgpool2d linear",
    "linear relu linear relu linear",
]


def main():
    docs = ["[INPUT] " + d + " [OUTPUT]" for d in DOCS]
    vectorizer = CountVectorizer(ngram_range=(2, 2), token_pattern=r"\S+", lowercase=False)
    counts = vectorizer.fit_transform(docs)
    tfidf = TfidfTransformer().fit_transform(counts)
    rng = np.random.RandomState(3)
    truth = rng.randint(0, 5, size=60)
    predicted = np.where(rng.rand(60) < 0.6, truth, rng.randint(0, 6, size=60))
    out = {
        "docs": DOCS,
        "terms": list(vectorizer.get_feature_names_out()),
        "df": [int(v) for v in np.asarray((counts > 0).sum(axis=0)).ravel()],
        "counts": counts.toarray().tolist(),
        "tfidf": tfidf.toarray().tolist(),
        "truth": truth.tolist(),
        "predicted": predicted.tolist(),
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(f1_score(truth, predicted, average="macro")),
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "naming.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
