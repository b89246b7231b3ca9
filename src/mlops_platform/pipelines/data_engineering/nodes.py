"""raw -> silver -> gold: read, enforce the contract, build features, split by time."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pandas as pd

from mlops_platform.contracts import enforce_contract
from mlops_platform.params import DataEngineeringParams
from mlops_platform.use_cases.base import UseCase

logger = logging.getLogger(__name__)


def ingest_raw_files(
    use_case: UseCase, raw_files: dict[str, Callable[[], pd.DataFrame]]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read every raw file of the use case into one frame of raw strings."""
    frame, report = use_case.ingest(raw_files)
    logger.info(
        "%s: %d raw rows from %d files",
        use_case.name,
        len(frame),
        len(report.get("files", {})),
    )
    return frame, report


def enforce_data_contract(
    use_case: UseCase, raw_batch: pd.DataFrame, params: DataEngineeringParams
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Typed valid rows to silver, broken rows (with reasons) to quarantine."""
    result = enforce_contract(
        raw_batch, use_case.contract, max_quarantine_share=params.max_quarantine_share
    )
    report = {**result.report, "contract_definition": use_case.contract.to_document()}
    return result.valid, result.quarantine, report


def build_gold_table(
    use_case: UseCase, silver: pd.DataFrame, params: DataEngineeringParams
) -> pd.DataFrame:
    """Model-ready rows (a basket for retail, a forecast origin for parking)."""
    gold = use_case.build_gold(silver, params.gold)
    logger.info("%s: %d gold rows", use_case.name, len(gold))
    return gold


def publish_online_features(
    use_case: UseCase, silver: pd.DataFrame, gold: pd.DataFrame
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The entity tables the service looks up (customers, products, ...), for the
    online store; every run, promoted or not (features follow the data)."""
    online = use_case.online_tables(silver, gold)
    missing = set(use_case.online_entities) - set(online["tables"])
    if missing:
        raise ValueError(f"{use_case.name}: online tables {sorted(missing)} missing")
    report = {"entities": list(online["tables"]), **online["meta"]}
    logger.info("%s: online tables %s", use_case.name, online["meta"].get("rows"))
    return online, report


def _newest_to_train(use_case: UseCase, test: pd.DataFrame, share: float) -> pd.Series:
    """Which test rows go to training: whole comparison units (a customer's baskets
    stay on one side), picked by a hash of the unit so a rerun picks the same; rows
    with no unit (an anonymous basket) are picked by their own id."""
    if share <= 0 or test.empty:
        return pd.Series(False, index=test.index)
    ids = pd.Series(
        [
            "|".join(map(str, row))
            for row in test[list(use_case.id_columns)].itertuples(index=False)
        ],
        index=test.index,
        dtype=object,
    )
    units = use_case.comparison_units(test)
    if units is not None:
        ids = units.astype(object).where(units.notna(), "row " + ids).astype(str)
    h = pd.util.hash_pandas_object(ids, index=False).to_numpy()
    return pd.Series((h % 10_000) < share * 10_000, index=test.index)


def split_by_time(
    use_case: UseCase, gold: pd.DataFrame, params: DataEngineeringParams
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Train on earlier periods, validate and test on the latest, as in production;
    with ``newest_train_share``, part of the test periods' units train too.

    Rows whose label is excluded (e.g. XX, unclassified) stay in gold and in the latest
    batch (drift looks at every row) but never enter train, validation or test.
    """
    split = params.split
    periods = sorted(gold[use_case.time_column].unique())
    needed = split.validation_periods + split.test_periods + 1
    if len(periods) < needed:
        raise ValueError(
            f"{use_case.name}: gold has {len(periods)} period(s) of "
            f"'{use_case.time_column}' ({periods}); the split needs at least {needed} "
            f"(validation_periods={split.validation_periods}, "
            f"test_periods={split.test_periods}, and one to train on)"
        )
    test_p = periods[-split.test_periods :]
    val_p = periods[-needed + 1 : -split.test_periods]
    train_p = periods[: -needed + 1]
    latest_p = periods[-split.latest_periods :]
    t = gold[use_case.time_column]
    labelled = ~gold[use_case.label].isin(use_case.excluded_labels)
    train = gold[t.isin(train_p) & labelled]
    validation = gold[t.isin(val_p) & labelled].reset_index(drop=True)
    test = gold[t.isin(test_p) & labelled]
    latest = gold[t.isin(latest_p)].reset_index(drop=True)
    newest = _newest_to_train(use_case, test, split.newest_train_share)
    train = pd.concat([train, test[newest]]).reset_index(drop=True)
    test = test[~newest].reset_index(drop=True)
    report = {
        "time_column": use_case.time_column,
        "train_periods": [int(p) for p in train_p],
        "validation_periods": [int(p) for p in val_p],
        "test_periods": [int(p) for p in test_p],
        "latest_periods": [int(p) for p in latest_p],
        "rows": {
            "gold": len(gold),
            "train": len(train),
            "validation": len(validation),
            "test": len(test),
            "latest": len(latest),
            "excluded_label_rows": int((~labelled).sum()),
            "test_periods_in_train": int(newest.sum()),
        },
        "newest_train_share": split.newest_train_share,
        "label_distribution": {
            name: part[use_case.label].value_counts(normalize=True).round(4).to_dict()
            for name, part in (
                ("train", train),
                ("validation", validation),
                ("test", test),
            )
        },
    }
    return train, validation, test, latest, report
