"""scikit-learn peer of `hybrid bench anomaly`: the same naming-anomaly pipeline on the same trace file, as a user
would write it with scikit-learn. Each model's layer names between [INPUT] and [OUTPUT] become 1- and 2-gram counts
(CountVectorizer, log(1 + count) as ours); StratifiedKFold (shuffled) splits the models whose class holds two or more;
per fold, MLPClassifier (512, 256, 128; Adam lr 1e-3, batch 256, 40 epochs, no early stop; scikit-learn has no
dropout) is trained and per-class GaussianMixture (diagonal, 1..4 components by BIC, reg_covar 0.1 on the
standardised 128-d last hidden layer) are fitted. Cases: "pipeline-first" (seconds of the first whole 5-fold run in
the process, value: mean accuracy), "pipeline" (the runs after it under the timing policy, as Hybrid's side times its
second run) and "plain-mlp" (MLPClassifier with its defaults on raw 1- and 2-gram counts, value: mean accuracy)."""

import json
import time
from collections import Counter

from bench_timing import emit, fail, measure, parse_arguments

try:
    import numpy as np
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.mixture import GaussianMixture
    from sklearn.model_selection import StratifiedKFold
    from sklearn.neural_network import MLPClassifier
except ImportError:
    fail("python3-sklearn is not installed (apt-get install -y python3-sklearn)")


def load(path, label, min_count):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    docs = ["[INPUT] " + " ".join(t for t in r["layers"].split() if t not in ("input", "output")) + " [OUTPUT]"
            for r in rows]
    counts = Counter(r[label] for r in rows)
    y = np.array([r[label] if counts[r[label]] >= min_count else "Others" for r in rows])
    return docs, y


def embedding(model, x):
    h = x
    for w, b in zip(model.coefs_[:-1], model.intercepts_[:-1]):
        h = np.maximum(h @ w + b, 0.0)
    return h


def class_mixtures(z, y, seed):
    mean, std = z.mean(axis=0), z.std(axis=0)
    std[std == 0] = 1.0
    zs = (z - mean) / std
    mixtures = {}
    for c in np.unique(y):
        rows = zs[y == c]
        distinct = len(np.unique(rows, axis=0))
        fits = [GaussianMixture(k, covariance_type="diag", reg_covar=0.1, random_state=seed).fit(rows)
                for k in range(1, min(4, distinct) + 1)]
        mixtures[c] = min(fits, key=lambda m: m.bic(rows))
    return mixtures


def cross_validate(docs, y, folds, seed, make_model, scale, with_mixtures):
    sizes = Counter(y)
    testable = np.array([sizes[v] >= 2 for v in y])
    idx = np.where(testable)[0]
    accuracies = []
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(idx, y[idx]):
        train = np.concatenate([idx[train], np.where(~testable)[0]])
        test = idx[test]
        vectorizer = CountVectorizer(ngram_range=(1, 2), token_pattern=r"\S+", lowercase=False)
        x_train = vectorizer.fit_transform([docs[i] for i in train]).astype(np.float32)
        x_test = vectorizer.transform([docs[i] for i in test]).astype(np.float32)
        if scale:
            x_train.data = np.log1p(x_train.data)
            x_test.data = np.log1p(x_test.data)
        model = make_model().fit(x_train, y[train])
        accuracies.append(float((model.predict(x_test) == y[test]).mean()))
        if with_mixtures:
            mixtures = class_mixtures(embedding(model, x_train.toarray()), y[train], seed)
            z = embedding(model, x_test.toarray())
            for m in mixtures.values():
                m.score_samples(z)
    return float(np.mean(accuracies))


def main() -> None:
    args = parse_arguments(__doc__, data=str, label=str, min_class_count=int, folds=int, epochs=int)
    docs, y = load(args.data, args.label, args.min_class_count)
    result = {}

    def pipeline():
        def make():
            return MLPClassifier((512, 256, 128), learning_rate_init=1e-3, batch_size=256, max_iter=args.epochs,
                                 tol=0.0, n_iter_no_change=args.epochs + 1, random_state=args.seed)
        result["pipeline"] = cross_validate(docs, y, args.folds, args.seed, make, True, True)

    start = time.perf_counter()
    pipeline()
    first = time.perf_counter() - start
    seconds = measure(pipeline, args)
    plain = cross_validate(docs, y, args.folds, args.seed, lambda: MLPClassifier(random_state=args.seed), False, False)
    emit([("pipeline-first", first, result["pipeline"]), ("pipeline", seconds, result["pipeline"]),
          ("plain-mlp", 0.0, plain)])


if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore")
    main()
