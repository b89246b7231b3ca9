"""Shared fixtures: small generated LGSR data, the retail use case, partitions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlops_platform import offline

offline.apply()

from mlops_platform.datagen.retail import DriftSpec, RetailConfig, generate  # noqa: E402
from mlops_platform.use_cases.retail import RetailUseCase  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
REAL_SAMPLE = REPO.parent / "shared" / "real-samples" / "lgsr_transactions_200607.csv"
SMALL: dict[str, Any] = {"customers": 700, "stores": 50}


def read_partition(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


def partitions_of(folder: Path) -> dict:
    """What the raw_files dataset (mlops_platform.lake.RawFilesDataset) hands a
    node: name -> load function returning the file's bytes."""
    return {p.stem: p.read_bytes for p in sorted(folder.glob("*.csv"))}


@pytest.fixture(scope="session")
def retail() -> RetailUseCase:
    return RetailUseCase()


@pytest.fixture(scope="session")
def small_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six weeks of small generated data, shared by the session (read-only)."""
    out = tmp_path_factory.mktemp("raw") / "retail"
    generate(RetailConfig(seed=11, weeks=6, **SMALL), out, progress=False)
    return out


@pytest.fixture(scope="module")
def weeks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six weeks of small generated data, for the module's scratch lakes (the
    incremental and backfill tests copy files from it)."""
    out = tmp_path_factory.mktemp("weeks") / "retail"
    generate(RetailConfig(seed=5, weeks=6, **SMALL), out, progress=False)
    return out


@pytest.fixture(scope="session")
def small_gold(small_raw: Path, retail: RetailUseCase) -> pd.DataFrame:
    from mlops_platform.contracts import enforce_contract

    raw, _ = retail.ingest(partitions_of(small_raw))
    return retail.build_gold(enforce_contract(raw, retail.contract).valid)


def make_gold(
    retail: RetailUseCase,
    folder: Path,
    cfg: RetailConfig,
    customer_profile: str = "as_of",
) -> pd.DataFrame:
    """A generated world's gold; ``customer_profile="line"`` for the realism study's
    protocol (the segment from the lines, as ``realism.week_gold`` builds it)."""
    from mlops_platform.contracts import enforce_contract
    from mlops_platform.use_cases.retail.features import build_basket_features

    generate(cfg, folder, progress=False)
    raw, _ = retail.ingest(partitions_of(folder))
    valid = enforce_contract(raw, retail.contract).valid
    if customer_profile == "line":
        return build_basket_features(valid, customer_profile="line")
    return retail.build_gold(valid)


__all__ = [
    "FIXTURES",
    "REAL_SAMPLE",
    "REPO",
    "SMALL",
    "DriftSpec",
    "RetailConfig",
    "make_gold",
    "partitions_of",
]
