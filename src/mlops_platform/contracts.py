"""Data contracts, enforced with Great Expectations.

A contract lists the columns of a raw batch with their type, nullability, value set,
range and pattern. Enforcement has two levels:

- schema level (a missing column, an unreadable file): the batch stops with a
  :class:`SchemaViolation` that names the file and the column;
- row level (a value out of range or set, a null where none is allowed, text where a
  number belongs): the row goes to quarantine with every reason it broke, and the
  rest of the batch continues. Nothing is dropped silently.

The Great Expectations suite is built from the same contract, so the contract is
written once and read by both the checks and the documentation.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

logger = logging.getLogger(__name__)

SOURCE_FILE = "source_file"
SOURCE_ROW = "source_row"
REASON = "quarantine_reason"

Kind = Literal["int", "float", "str"]


class ContractError(ValueError):
    """Base error for data that breaks its contract."""


class SchemaViolation(ContractError):
    """A batch that cannot be read as the contract says: stops the run."""

    def __init__(self, source: str, column: str | None, problem: str) -> None:
        self.source = source
        self.column = column
        self.problem = problem
        where = f"file '{source}'" + (f", column '{column}'" if column else "")
        super().__init__(f"{where}: {problem}")


class QuarantineLimitExceeded(ContractError):
    """Too large a share of a batch broke row-level rules to trust the rest."""


@dataclass(frozen=True)
class ColumnSpec:
    """What one column must hold."""

    name: str
    kind: Kind
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None
    pattern: str | None = None
    description: str = ""


@dataclass(frozen=True)
class DataContract:
    """An ordered set of column specs for one raw record type."""

    name: str
    columns: tuple[ColumnSpec, ...]
    description: str = ""
    # Raw names that are accepted and renamed (real-file quirks), old -> new.
    aliases: dict[str, str] = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def spec(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def check_schema(self, frame: pd.DataFrame, source: str) -> None:
        """Raise :class:`SchemaViolation` naming the first missing column."""
        for name in self.column_names:
            if name not in frame.columns:
                raise SchemaViolation(
                    source,
                    name,
                    f"missing column (contract '{self.name}' requires "
                    f"{', '.join(self.column_names)})",
                )

    def to_document(self) -> dict[str, Any]:
        """A JSON-friendly description (for reports and docs)."""
        return {
            "name": self.name,
            "description": self.description,
            "columns": [
                {
                    k: v
                    for k, v in {
                        "name": c.name,
                        "type": c.kind,
                        "nullable": c.nullable,
                        "allowed": list(c.allowed) if c.allowed else None,
                        "min": c.min_value,
                        "max": c.max_value,
                        "pattern": c.pattern,
                        "description": c.description or None,
                    }.items()
                    if v is not None
                }
                for c in self.columns
            ],
        }


def build_expectation_suite(contract: DataContract) -> Any:
    """The Great Expectations suite that encodes ``contract``'s row-level rules."""
    import great_expectations as gx  # noqa: PLC0415 (slow import, only when used)

    suite = gx.ExpectationSuite(name=f"{contract.name}_contract")
    suite.add_expectation(
        gx.expectations.ExpectTableColumnsToMatchSet(
            column_set=[*contract.column_names, SOURCE_FILE, SOURCE_ROW],
            exact_match=False,
        )
    )
    for spec in contract.columns:
        col = spec.name
        if not spec.nullable:
            suite.add_expectation(
                gx.expectations.ExpectColumnValuesToNotBeNull(column=col)
            )
        if spec.allowed is not None:
            suite.add_expectation(
                gx.expectations.ExpectColumnValuesToBeInSet(
                    column=col, value_set=list(spec.allowed)
                )
            )
        if spec.min_value is not None or spec.max_value is not None:
            suite.add_expectation(
                gx.expectations.ExpectColumnValuesToBeBetween(
                    column=col, min_value=spec.min_value, max_value=spec.max_value
                )
            )
        if spec.pattern is not None:
            suite.add_expectation(
                gx.expectations.ExpectColumnValuesToMatchRegex(
                    column=col, regex=spec.pattern
                )
            )
    return suite


def _describe(expectation_type: str, kwargs: dict[str, Any]) -> str:
    if expectation_type == "expect_column_values_to_not_be_null":
        return "null where a value is required"
    if expectation_type == "expect_column_values_to_be_in_set":
        values = kwargs.get("value_set", [])
        shown = ", ".join(map(str, values[:8])) + (" ..." if len(values) > 8 else "")
        return f"not one of [{shown}]"
    if expectation_type == "expect_column_values_to_be_between":
        low, high = _num(kwargs.get("min_value")), _num(kwargs.get("max_value"))
        return f"outside [{low}, {high}]"
    if expectation_type == "expect_column_values_to_match_regex":
        return f"does not match {kwargs.get('regex')!r}"
    return expectation_type


def _num(value: Any) -> Any:
    """Show 1.0 as 1 in messages; leave everything else alone."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _coerce_types(
    frame: pd.DataFrame, contract: DataContract
) -> tuple[pd.DataFrame, dict[int, list[str]]]:
    """Parse numeric columns; unparseable values become row-level reasons."""
    typed = frame.copy()
    reasons: dict[int, list[str]] = defaultdict(list)
    for spec in contract.columns:
        if spec.kind == "str":
            continue
        raw = frame[spec.name]
        parsed = pd.to_numeric(raw, errors="coerce")
        bad = parsed.isna() & raw.notna()
        if spec.kind == "int":
            fractional = parsed.notna() & (parsed != np.floor(parsed))
            for idx, value in raw[fractional].items():
                reasons[int(idx)].append(f"{spec.name}: not an integer ({value!r})")
            parsed = parsed.where(~fractional)
        for idx, value in raw[bad].items():
            reasons[int(idx)].append(f"{spec.name}: not a number ({value!r})")
        typed[spec.name] = parsed.astype("float64")
    return typed, reasons


def _validate_with_gx(
    frame: pd.DataFrame, contract: DataContract
) -> tuple[dict[int, list[str]], list[dict[str, Any]]]:
    import great_expectations as gx  # noqa: PLC0415
    from great_expectations.data_context.types.base import (  # noqa: PLC0415
        ProgressBarsConfig,
    )

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(
        globally=False, metric_calculations=False
    )
    source = context.data_sources.add_pandas(name=f"{contract.name}_source")
    asset = source.add_dataframe_asset(name=contract.name)
    batch_definition = asset.add_batch_definition_whole_dataframe("whole_batch")
    suite = context.suites.add(build_expectation_suite(contract))
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite, result_format={"result_format": "COMPLETE"})

    reasons: dict[int, list[str]] = defaultdict(list)
    summary: list[dict[str, Any]] = []
    for r in result.results:
        config = r.expectation_config
        if config is None:
            continue
        kwargs = dict(config.kwargs)
        column = kwargs.get("column")
        res = r.result or {}
        unexpected = res.get("unexpected_index_list") or []
        values = res.get("unexpected_list") or []
        if r.exception_info and r.exception_info.get("raised_exception"):
            raise ContractError(
                f"contract '{contract.name}': expectation {config.type} on "
                f"column '{column}' could not run: "
                f"{r.exception_info.get('exception_message')}"
            )
        problem = _describe(config.type, kwargs)
        values = values or [None] * len(unexpected)
        for idx, value in zip(unexpected, values, strict=False):
            shown = "" if value is None or pd.isna(value) else f" ({_num(value)!r})"
            reasons[int(idx)].append(f"{column}: {problem}{shown}")
        summary.append(
            {
                "expectation": config.type,
                "column": column,
                "success": bool(r.success),
                "unexpected_count": int(res.get("unexpected_count", 0) or 0),
            }
        )
    return reasons, summary


@dataclass
class ContractResult:
    valid: pd.DataFrame
    quarantine: pd.DataFrame
    report: dict[str, Any]


def enforce_contract(
    frame: pd.DataFrame, contract: DataContract, max_quarantine_share: float = 1.0
) -> ContractResult:
    """Split ``frame`` (raw strings) into typed valid rows and quarantined rows.

    ``frame`` must carry :data:`SOURCE_FILE` and :data:`SOURCE_ROW` so every
    quarantined row can be traced back to its file and line.
    """
    contract.check_schema(frame, source=_sources(frame))
    frame = frame.reset_index(drop=True)
    typed, reasons = _coerce_types(frame, contract)
    gx_reasons, summary = _validate_with_gx(typed, contract)
    for idx, rs in gx_reasons.items():
        reasons[idx].extend(rs)

    bad_index = np.fromiter(sorted(reasons), dtype=np.int64, count=len(reasons))
    is_bad = np.zeros(len(frame), dtype=bool)
    is_bad[bad_index] = True

    quarantine = frame.loc[is_bad].copy()
    quarantine[REASON] = ["; ".join(reasons[int(i)]) for i in quarantine.index]
    valid = typed.loc[~is_bad].reset_index(drop=True)
    for spec in contract.columns:
        if spec.kind == "int" and not spec.nullable:
            valid[spec.name] = valid[spec.name].astype("int64")

    share = float(is_bad.mean()) if len(frame) else 0.0
    per_file = (
        quarantine.groupby(SOURCE_FILE).size().astype(int).to_dict()
        if len(quarantine)
        else {}
    )
    report = {
        "contract": contract.name,
        "rows_in": len(frame),
        "rows_valid": len(valid),
        "rows_quarantined": len(quarantine),
        "quarantined_share": round(share, 6),
        "quarantined_by_file": {str(k): int(v) for k, v in per_file.items()},
        "expectations": summary,
        "success": share <= max_quarantine_share,
    }
    logger.info(
        "contract %s: %d rows in, %d valid, %d quarantined (%.3f%%)",
        contract.name,
        len(frame),
        len(valid),
        len(quarantine),
        100 * share,
    )
    if share > max_quarantine_share:
        worst = quarantine[REASON].str.split("; ").explode().value_counts().head(3)
        raise QuarantineLimitExceeded(
            f"contract '{contract.name}': {len(quarantine)} of {len(frame)} rows "
            f"({share:.1%}) broke row-level rules, above the limit of "
            f"{max_quarantine_share:.1%}; most frequent: "
            + "; ".join(f"{k} x{v}" for k, v in worst.items())
        )
    return ContractResult(valid=valid, quarantine=quarantine, report=report)


def _sources(frame: pd.DataFrame) -> str:
    if SOURCE_FILE in frame.columns and len(frame):
        names = sorted(map(str, frame[SOURCE_FILE].unique()))
        return names[0] if len(names) == 1 else f"{names[0]} (+{len(names) - 1} more)"
    return "<batch>"
