"""Drift statistics of a text feature, each judged against the reference's own periods.

A text column has no distribution a KS or chi-square test can read directly. Three
statistics describe what a text model depends on:

- ``words``: the number of words per text (KS statistic against the reference);
- ``oov_share``: the share of the batch's words outside the vocabulary (words in at
  least ``MIN_DOCUMENTS`` reference texts): the words the champion never learned;
- ``token_divergence``: the Jensen-Shannon distance between the batch's word
  frequencies and the reference's, over the reference's ``TOP_WORDS`` most frequent
  words and one bucket for every other word.

Each is computed for the batch against the whole reference, and for every reference
period against the rest of the reference (the null: what an ordinary period shows);
the batch drifts on a statistic beyond the null's quantile. Every one of these
statistics depends on the sample size (a bigger sample is closer to its population),
and the reference is a sample of the training days, so a batch larger than the
reference's median period is scored on a random subsample of that size
(:func:`comparable`): the batch and the null are then judged at the same size.
Words are :func:`mlops_serving.text.words`, the tokenizer the models use.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

MIN_DOCUMENTS = 2
TOP_WORDS = 5000
STATISTICS = ("words", "oov_share", "token_divergence")
# What each statistic is, in a report's words.
DESCRIBED = {
    "words": "KS D of words per text",
    "oov_share": "share of words outside the vocabulary",
    "token_divergence": "Jensen-Shannon of word frequencies",
}


class _Side:
    """Word counts, document counts and lengths of a set of texts."""

    def __init__(self, tokenized: Sequence[list[str]]) -> None:
        self.lengths = np.array([len(t) for t in tokenized], dtype=float)
        self.tokens: Counter[str] = Counter()
        self.documents: Counter[str] = Counter()
        for words in tokenized:
            self.tokens.update(words)
            self.documents.update(set(words))

    def minus(self, other: _Side) -> _Side:
        out = _Side([])
        out.tokens = self.tokens - other.tokens
        out.documents = self.documents - other.documents
        return out


def _oov_share(batch: _Side, reference: _Side) -> float:
    total = sum(batch.tokens.values())
    if not total:
        return 0.0
    known = {w for w, n in reference.documents.items() if n >= MIN_DOCUMENTS}
    outside = sum(n for w, n in batch.tokens.items() if w not in known)
    return outside / total


def _divergence(batch: _Side, reference: _Side, top: list[str]) -> float:
    from scipy.spatial.distance import jensenshannon  # noqa: PLC0415

    def shares(side: _Side) -> np.ndarray:
        counts = np.array([side.tokens.get(w, 0) for w in top], dtype=float)
        other = sum(side.tokens.values()) - counts.sum()
        v = np.append(counts, max(other, 0.0))
        return v / v.sum() if v.sum() else v

    return float(jensenshannon(shares(reference), shares(batch), base=2))


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    from scipy import stats  # noqa: PLC0415

    if not len(a) or not len(b):
        return float("nan")
    return float(stats.ks_2samp(a, b).statistic)


def comparable(current: pd.Series, periods: pd.Series, seed: int = 0) -> pd.Series:
    """``current`` cut (at random, reproducibly) to the reference's median period
    size, when it is larger."""
    size = int(periods.value_counts().median())
    if len(current) <= size:
        return current
    return current.sample(size, random_state=seed)


def text_statistics(
    reference: pd.Series, periods: pd.Series, current: pd.Series
) -> dict[str, tuple[float, list[float]]]:
    """Per statistic: the batch's value and each reference period's (the null)."""
    from mlops_serving.text import words  # noqa: PLC0415

    ref_tokens = [words(str(t)) for t in reference.tolist()]
    whole = _Side(ref_tokens)
    batch = _Side([words(str(t)) for t in comparable(current, periods).tolist()])
    top = [w for w, _ in whole.tokens.most_common(TOP_WORDS)]
    out: dict[str, tuple[float, list[float]]] = {
        "words": (_ks(whole.lengths, batch.lengths), []),
        "oov_share": (_oov_share(batch, whole), []),
        "token_divergence": (_divergence(batch, whole, top), []),
    }
    labels = periods.to_numpy()
    for p in pd.unique(labels):
        inside = np.flatnonzero(labels == p)
        part = _Side([ref_tokens[i] for i in inside])
        rest = whole.minus(part)
        rest.lengths = np.delete(whole.lengths, inside)
        out["words"][1].append(_ks(rest.lengths, part.lengths))
        out["oov_share"][1].append(_oov_share(part, rest))
        out["token_divergence"][1].append(_divergence(part, rest, top))
    return out


def null_test(
    name: str,
    today: float,
    null: Sequence[float],
    quantile: float,
    severe_factor: float,
) -> dict[str, Any]:
    """Drifted when ``today`` is above the ``quantile`` of the periods' own values."""
    values = np.array([v for v in null if np.isfinite(v)], dtype=float)
    threshold = float(np.quantile(values, quantile))
    return {
        "test": f"{name} above the {quantile:.0%} quantile of {len(values)} "
        "reference periods' own",
        "score": float(today),
        "null_quantile": threshold,
        "null_max": float(values.max()),
        "null_values": [round(float(v), 6) for v in values],
        "drifted": bool(today > threshold),
        "severe": bool(today >= severe_factor * threshold),
        **null_effect(name, float(today), threshold, quantile),
    }


def null_effect(
    name: str, today: float, threshold: float, quantile: float
) -> dict[str, Any]:
    """What a test against the periods' own values found, in words, and the effect
    against its threshold (the scale every feature of a report is ranked on)."""
    return {
        "effect": f"{name} {today:.3f} (normal: {quantile:.0%} of periods "
        f"<= {threshold:.3f})",
        "effect_ratio": today / threshold if threshold > 0 else float("inf"),
        "flagged_by": [f"{name} {today:.3f} > {threshold:.3f}"]
        if today > threshold
        else [],
    }
