"""Movie reviews: the sentiment contract.

Both real formats are read into one canonical record (``ingest.py``): the Kaggle
``IMDB Dataset.csv`` (``review,sentiment``) and the aclImdb tree
(``train|test/pos|neg/<id>_<rating>.txt``). A review that cannot be read (invalid
UTF-8, a malformed CSV record) keeps a readable form of its bytes and the reason in
``ingest_error`` (:data:`mlops_platform.contracts.INGEST_ERROR`); the contract
quarantines any record with a value there, giving that reason first.
"""

from __future__ import annotations

import hashlib

import pandas as pd

from mlops_platform.contracts import (
    SOURCE_FILE,
    SOURCE_ROW,
    ColumnSpec,
    DataContract,
    RowCheck,
)

REVIEW = "review"
# SHA-256 of the review's stripped text, written by ingest and kept in silver: the
# duplicate check compares it with every review read before, so an incremental run
# reads 64 characters per earlier review from silver, not its whole text.
REVIEW_DIGEST = "review_sha256"
SENTIMENT = "sentiment"
RATING = "rating"
DAY = "day"
CLASSES = ("negative", "positive")
MAX_CHARACTERS = 100_000


def review_digest(text: object) -> str | None:
    """:data:`REVIEW_DIGEST` of one review (None for no text)."""
    if not isinstance(text, str):
        return None
    return hashlib.sha256(text.strip().encode("utf-8", "surrogatepass")).hexdigest()


def duplicate_review(rows: pd.DataFrame) -> pd.Series:
    """A review whose text (its digest) was already read: the first one stays."""
    key = rows[REVIEW_DIGEST]
    dup = key.duplicated(keep="first")
    out = pd.Series("", index=rows.index, dtype=object)
    if not dup.any():
        return out
    first = rows.loc[~dup].set_index(REVIEW_DIGEST)
    for idx in rows.index[dup]:
        where = first.loc[key[idx]]
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
            REVIEW_DIGEST,
            "str",
            pattern=r"^[0-9a-f]{64}$",
            pattern_meaning="not a SHA-256 digest",
            description="SHA-256 of the stripped review text (ingest writes it)",
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
            across_files=(REVIEW_DIGEST, SENTIMENT, SOURCE_FILE, SOURCE_ROW),
        ),
        RowCheck(
            "rating_disagrees",
            "an aclImdb rating that does not fit its label folder",
            rating_disagrees,
        ),
    ),
)
