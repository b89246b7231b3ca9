"""Sentiment candidates: the linear text models that are hard to beat on IMDB, and a
Keras network.

- ``nbsvm``: NBSVM in logistic form on binary word and word-pair features;
- ``tfidf_logreg``: TF-IDF on words and word pairs, logistic regression;
- ``keras_embedding_bag``: an embedding bag (the average of word and hashed word-pair
  embeddings) with a softmax, on token ids from :mod:`mlops_serving.text`.

Both linear models export with their tokenizer inside the ONNX graph. Their token
pattern is the serving tokenizer's (``[a-z0-9]+(?:'[a-z]+)?``): skl2onnx keeps it
exactly, where scikit-learn's default pattern would be silently replaced.
BERT-class models are not candidates: their weights cannot be downloaded here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from mlops_serving.text import PATTERN as TOKEN_PATTERN
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from mlops_platform.estimators import NBLogisticRegression, TextClassifier
from mlops_platform.flavours import Candidate, InputLayout, KerasSpec, import_keras
from mlops_platform.params import TrainingParams

KERAS_TRAINING = ("epochs", "batch_size", "patience", "learning_rate", "loss")
TOKENIZER = ("max_vocabulary", "min_documents", "length", "max_words", "bigram_buckets")


def _vectorizer(p: dict[str, Any], **fixed: Any) -> TfidfVectorizer:
    return TfidfVectorizer(
        token_pattern=TOKEN_PATTERN,
        ngram_range=(1, int(p.pop("ngram_max", 2))),
        min_df=p.pop("min_df", 2),
        max_df=p.pop("max_df", 1.0),
        dtype=np.float32,
        **fixed,
    )


def linear_unigrams(text: str) -> TextClassifier:
    """The strong baseline: TF-IDF on single words, logistic regression, defaults."""
    return TextClassifier(
        text, _vectorizer({"ngram_max": 1}), LogisticRegression(max_iter=1000)
    )


def build_embedding_bag(train: dict[str, np.ndarray], p: dict[str, Any]) -> Any:
    keras = import_keras()
    length = train["text"].shape[1]
    tokens = keras.Input((length,), dtype="int32", name="text")
    h = keras.layers.Embedding(
        int(p["vocabulary_size"]), int(p.get("embedding_dim", 16)), mask_zero=True
    )(tokens)
    h = keras.layers.GlobalAveragePooling1D()(h)
    h = keras.layers.Dropout(float(p.get("dropout", 0.3)))(h)
    out = keras.layers.Dense(2, activation="softmax", name="sentiment")(h)
    return keras.Model(tokens, out, name="sentiment_embedding_bag")


def build_candidates(
    text: str, classes: tuple[str, ...], params: TrainingParams
) -> dict[str, Candidate]:
    out: dict[str, Candidate] = {}
    for name, spec in params.candidates.items():
        if not spec.enabled:
            continue
        p = dict(spec.params)
        if name == "nbsvm":
            vectorizer = _vectorizer(p, binary=True, use_idf=False, norm=None)
            model = TextClassifier(text, vectorizer, NBLogisticRegression(**p))
            out[name] = Candidate("sklearn", model, dict(spec.params))
        elif name == "tfidf_logreg":
            vectorizer = _vectorizer(p)
            model = TextClassifier(
                text, vectorizer, LogisticRegression(max_iter=1000, **p)
            )
            out[name] = Candidate("sklearn", model, dict(spec.params))
        elif name == "keras_embedding_bag":
            training = {k: p.pop(k) for k in KERAS_TRAINING if k in p}
            tokenizer = {k: p.pop(k) for k in TOKENIZER if k in p}
            layout = InputLayout(texts={"text": text}, tokenizer_params=tokenizer)
            out[name] = Candidate(
                "keras",
                KerasSpec(
                    layout=layout,
                    build=build_embedding_bag,
                    params=p,
                    seed=params.random_state,
                    classes=classes,
                    loss=training.pop("loss", "sparse_categorical_crossentropy"),
                    **training,
                ),
                dict(spec.params),
            )
        else:
            raise ValueError(
                f"parameters_training.yml: unknown sentiment candidate {name!r}; "
                "known: nbsvm, tfidf_logreg, keras_embedding_bag"
            )
    return out
