"""Movie reviews: the sentiment contract.

Both real formats are read into one canonical record (``ingest.py``): the Kaggle
``IMDB Dataset.csv`` (``review,sentiment``) and the aclImdb tree
(``train|test/pos|neg/<id>_<rating>.txt``). A review that cannot be read (invalid
UTF-8, a malformed CSV record) keeps a readable form of its bytes and the reason in
``ingest_error`` (:data:`mlops_platform.contracts.INGEST_ERROR`); the contract
quarantines any record with a value there, giving that reason first.
"""

from __future__ import annotations

import pandas as pd

from mlops_platform.contracts import (
    SOURCE_FILE,
    SOURCE_ROW,
    ColumnSpec,
    DataContract,
    RowCheck,
)

REVIEW = "review"
SENTIMENT = "sentiment"
RATING = "rating"
DAY = "day"
CLASSES = ("negative", "positive")
MAX_CHARACTERS = 100_000


def duplicate_review(rows: pd.DataFrame) -> pd.Series:
    """A review whose text was already read: the first one stays."""
    text = rows[REVIEW].astype(str).str.strip()
    dup = text.duplicated(keep="first")
    out = pd.Series("", index=rows.index, dtype=object)
    if not dup.any():
        return out
    first = rows.loc[~dup].assign(_key=text[~dup]).set_index("_key")
    for idx in rows.index[dup]:
        where = first.loc[text[idx]]
        label = "same" if where[SENTIMENT] == rows.at[idx, SENTIMENT] else "OTHER"
        out[idx] = (
            f"same text as {where[SOURCE_FILE]} line {where[SOURCE_ROW]} "
            f"({label} label)"
        )
    return out


def rating_disagrees(rows: pd.DataFrame) -> pd.Series:
    """aclImdb labels by rating: negative <= 4, positive >= 7 (5 and 6 are left out)."""
    rating = rows[RATING]
    bad = rating.notna() & (
        ((rows[SENTIMENT] == "negative") & (rating > 4))
        | ((rows[SENTIMENT] == "positive") & (rating < 7))
        | rating.between(5, 6)
    )
    return pd.Series(
        [
            f"rating {int(r)} does not fit the label {s!r}" if b else ""
            for r, s, b in zip(rating, rows[SENTIMENT], bad, strict=True)
        ],
        index=rows.index,
        dtype=object,
    )


SENTIMENT_CONTRACT = DataContract(
    name="movie_reviews",
    description="One labelled movie review (either format, after ingest).",
    columns=(
        ColumnSpec(
            REVIEW,
            "str",
            pattern=r"\S",
            pattern_meaning="empty or whitespace only",
            max_length=MAX_CHARACTERS,
            description="the review text, as written (IMDB keeps <br /> line breaks)",
        ),
        ColumnSpec(
            SENTIMENT,
            "str",
            allowed=CLASSES,
            description="negative or positive (aclImdb: the neg or pos folder)",
        ),
        ColumnSpec(
            RATING,
            "int",
            nullable=True,
            min_value=1,
            max_value=10,
            description="the reviewer's rating, 1-10 (aclImdb file names only)",
        ),
        ColumnSpec(
            DAY,
            "int",
            min_value=19000101,
            max_value=29991231,
            description="the batch's day, YYYYMMDD, from its file or folder name",
        ),
    ),
    row_checks=(
        RowCheck(
            "duplicate_review",
            "the same text as an earlier review (the aclImdb train split has 96)",
            duplicate_review,
            across_files=(REVIEW, SENTIMENT, SOURCE_FILE, SOURCE_ROW),
        ),
        RowCheck(
            "rating_disagrees",
            "an aclImdb rating that does not fit its label folder",
            rating_disagrees,
        ),
    ),
)
