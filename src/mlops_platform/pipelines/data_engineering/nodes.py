"""raw -> silver -> gold: read what is new, enforce the contract, build the features
of the periods that changed, split by time (docs/incremental.md)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

import pandas as pd

from mlops_platform.contracts import SOURCE_FILE, enforce_contract
from mlops_platform.lake import (
    GOLD,
    LATEST,
    STATE,
    LakeTable,
    RawFiles,
    TableUpdate,
    compact,
    ordered,
    read_gold,
    sha256_of,
    states_before,
)
from mlops_platform.params import DataEngineeringParams, SplitParams
from mlops_platform.use_cases.base import UseCase

logger = logging.getLogger(__name__)

# Version of the gold table's layout (parts, state kinds, the compacted latest
# state): another rebuilds gold.
LAYOUT = 3


def _plan(
    use_case: UseCase,
    raw: RawFiles,
    full_refresh: bool,
    max_batch_mb: float | None = None,
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Which raw files to read, from the ledger: new files, and files whose content
    changed (a file whose stamp changed is hashed; equal content is only re-stamped).
    A changed reference file (read with every batch) reprocesses every batch.
    ``max_batch_mb``: the files to read, in key order, up to that size (at least
    one); the others are ``deferred`` to the next run."""
    read_bytes: dict[str, bytes] = {}

    def digest(key: str) -> str:
        read_bytes[key] = raw[key]()
        return sha256_of(read_bytes[key])

    is_ref = {k: PurePosixPath(k).name in use_case.reference_files for k in raw}
    previous_refs = raw.ledger_meta.get("references", {})
    references: dict[str, Any] = {}
    for key in (k for k in raw if is_ref[k]):
        before = previous_refs.get(key, {})
        stamp = raw.stamp(key)
        same = before and all(before.get(k) == v for k, v in stamp.items())
        sha = before["sha256"] if same else digest(key)
        references[key] = {**stamp, "sha256": sha}
    contract = use_case.contract.digest()
    reason = ""
    if full_refresh:
        reason = "full refresh asked for (data_engineering.full_refresh)"
    elif raw.ledger and raw.ledger_meta.get("contract") != contract:
        reason = (
            f"the data contract '{use_case.contract.name}' changed since silver was "
            f"validated (definition {contract[:12]}, silver's "
            f"{str(raw.ledger_meta.get('contract') or 'not recorded')[:12]})"
        )
    elif (
        raw.ledger
        and references != previous_refs
        and (
            {k: v["sha256"] for k, v in references.items()}
            != {k: v.get("sha256") for k, v in previous_refs.items()}
        )
    ):
        reason = f"reference file(s) changed: {sorted(references)}"
    plan: dict[str, Any] = {
        "full_refresh": bool(reason),
        "reason": reason or "incremental",
        "base_version": raw.ledger_version,
        "new": [],
        "changed": [],
        "ignored": [],
        "touched": {},
        "unchanged": 0,
        "deferred": [],
        "removed": sorted(k for k in raw.ledger if k not in raw),
        "references": references,
        "contract": contract,
        "files": {},
    }
    for key in (k for k in raw if not is_ref[k]):
        if not use_case.reads_raw_file(key):
            plan["ignored"].append(key)
            continue
        entry = raw.ledger.get(key)
        if plan["full_refresh"] or entry is None:
            plan["new" if entry is None else "changed"].append(key)
        elif raw.unchanged_by_stamp(key):
            plan["unchanged"] += 1
        elif digest(key) == entry.get("sha256"):
            plan["touched"][key] = raw.stamp(key)
            read_bytes.pop(key)
        else:
            plan["changed"].append(key)
    if max_batch_mb is not None:
        queued = sorted([*plan["new"], *plan["changed"]])
        taken, size = 0, 0
        for key in queued:
            size += raw.stamp(key)["size"]
            if taken and size > max_batch_mb * 1e6:
                break
            taken += 1
        deferred = set(queued[taken:])
        plan["deferred"] = queued[taken:]
        for kind in ("new", "changed"):
            plan[kind] = [k for k in plan[kind] if k not in deferred]
    for key in [k for k in read_bytes if is_ref[k] or k in plan["deferred"]]:
        read_bytes.pop(key)
    return plan, read_bytes


def ingest_raw_files(
    use_case: UseCase, raw_files: RawFiles, params: DataEngineeringParams
) -> tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """Read the raw files the ledger has not seen with this content (all of them on
    a full refresh; up to ``max_batch_mb`` of them) into one frame of raw strings;
    the plan says what was read, what waits and why, with each file's SHA-256 (of
    the bytes actually parsed)."""
    plan, cached = _plan(use_case, raw_files, params.full_refresh, params.max_batch_mb)
    to_read = [*plan["new"], *plan["changed"]]

    def hashing(key: str) -> Callable[[], bytes]:
        def load() -> bytes:
            data = cached.pop(key) if key in cached else raw_files[key]()
            plan["files"][key] = {**raw_files.stamp(key), "sha256": sha256_of(data)}
            return data

        return load

    if to_read:
        loaders: dict[str, Callable[[], Any]] = {k: hashing(k) for k in to_read}
        loaders.update({k: raw_files[k] for k in plan["references"]})
        frame, report = use_case.ingest(loaders)
    else:
        frame, report = pd.DataFrame(), {"files": {}, "rows": 0}
    report["incremental"] = {
        k: plan[k]
        for k in (
            "full_refresh",
            "reason",
            "new",
            "changed",
            "deferred",
            "removed",
            "ignored",
        )
    } | {"unchanged": plan["unchanged"], "touched": sorted(plan["touched"])}
    logger.info(
        "%s: %d raw rows from %d files "
        "(%d new, %d changed, %d unchanged, %d removed, %d deferred%s)",
        use_case.name,
        len(frame),
        len(to_read),
        len(plan["new"]),
        len(plan["changed"]),
        plan["unchanged"],
        len(plan["removed"]),
        len(plan["deferred"]),
        ", full refresh" if plan["full_refresh"] else "",
    )
    return frame, report, plan


def enforce_data_contract(
    use_case: UseCase,
    raw_batch: pd.DataFrame,
    raw_files: RawFiles,
    plan: dict[str, Any],
    params: DataEngineeringParams,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Typed valid rows to silver, broken rows (with reasons) to quarantine. Rules
    between files (duplicates) also see the rows silver keeps from other files."""
    if raw_batch.empty and not len(raw_batch.columns):
        report = {
            "contract": use_case.contract.name,
            "rows_in": 0,
            "rows_valid": 0,
            "rows_quarantined": 0,
            "rows_unreadable": 0,
            "quarantined_share": 0.0,
            "quarantined_by_file": {},
            "expectations": [],
            "success": True,
            "note": "no new or changed raw file: nothing to check",
        }
        return pd.DataFrame(), pd.DataFrame(), report
    columns = sorted(
        {c for check in use_case.contract.row_checks for c in check.across_files}
    )
    earlier = None
    if columns and not plan["full_refresh"]:
        again = {*plan["new"], *plan["changed"], *plan["removed"]}
        kept = [k for k in raw_files.silver.names() if k not in again]
        earlier = raw_files.silver.read(kept, columns=columns)
    result = enforce_contract(
        raw_batch,
        use_case.contract,
        max_quarantine_share=params.max_quarantine_share,
        earlier=earlier,
    )
    report = {**result.report, "contract_definition": use_case.contract.to_document()}
    return result.valid, result.quarantine, report


def _ledger_meta(
    before: dict[str, Any], references: dict[str, Any], contract: str
) -> dict[str, Any] | None:
    """Silver's table meta: the reference files read and the contract's digest
    (None: unchanged, nothing to write)."""
    after = {**before, "references": references, "contract": contract}
    return None if after == before else after


def _by_file(
    frame: pd.DataFrame, keys: list[str], suffix: str
) -> dict[str, pd.DataFrame | None]:
    """Rows per raw file key (a row names its file in ``source_file``: the key, or
    the key and the files' suffix); a key with no row gets None."""
    out: dict[str, pd.DataFrame | None] = dict.fromkeys(keys)
    if frame.empty:
        return out
    known = set(keys)
    for source, rows in frame.groupby(SOURCE_FILE, sort=True):
        name = str(source)
        key = name if name in known else name.removesuffix(suffix)
        if key not in known:
            raise ValueError(
                f"a row's source_file {name!r} is none of the files read "
                f"({sorted(known)[:5]}...)"
            )
        out[key] = rows.reset_index(drop=True)
    return out


def _rows(frame: pd.DataFrame | None) -> int:
    return 0 if frame is None else len(frame)


def _periods(use_case: UseCase, rows: pd.DataFrame | None) -> list[Any]:
    """The gold periods a file's silver rows belong to (for the ledger)."""
    periods = None if rows is None or rows.empty else use_case.silver_periods(rows)
    if periods is None:
        return []
    return sorted(v.item() if hasattr(v, "item") else v for v in periods.unique())


def update_silver(
    use_case: UseCase,
    plan: dict[str, Any],
    valid: pd.DataFrame,
    quarantine: pd.DataFrame,
    raw_files: RawFiles,
) -> tuple[TableUpdate, TableUpdate, dict[str, Any]]:
    """One silver part and one quarantine part per raw file read: new parts added,
    a changed file's parts replaced, a removed file's parts deleted. The silver
    manifest is the ledger: each part records its file's SHA-256, size, stamp,
    rows and periods. Quarantine is committed first (a run killed in between
    reprocesses the file: the ledger moves last)."""
    read = sorted(plan["files"])
    rows = _by_file(valid, read, raw_files.suffix)
    bad = _by_file(quarantine, read, raw_files.suffix)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    entries = {
        key: {
            **plan["files"][key],
            "periods": _periods(use_case, rows[key]),
            "quarantined": _rows(bad[key]),
            "processed_at": now,
        }
        for key in read
    }
    entries.update({k: dict(v) for k, v in plan["touched"].items()})
    full = plan["full_refresh"]
    references = plan["references"]
    silver = TableUpdate(
        writes=rows,
        entries=entries,
        deletes=set(plan["removed"]),
        meta=_ledger_meta(raw_files.ledger_meta, references, plan["contract"]),
        replace_all=full,
        base_version=plan["base_version"],
    )
    # A full refresh in batches keeps the quarantine parts of the files it defers
    # until it reads them again: killed between this commit and the ledger's, it
    # leaves the quarantine of the silver the ledger keeps (a run without the full
    # refresh then goes on; docs/incremental.md).
    quarantined = TableUpdate(
        writes=bad,
        deletes=set(plan["removed"]),
        replace_all=full and not plan["deferred"],
    )
    report = {
        "files_written": len(read),
        "rows_written": sum(map(_rows, rows.values())),
        "quarantined_rows_written": sum(map(_rows, bad.values())),
        "files_removed": plan["removed"],
        "full_refresh": full,
    }
    return quarantined, silver, report


def _rebuild_window(
    use_case: UseCase,
    changed: list[str],
    built: dict[str, Any],
    now: dict[str, Any],
) -> tuple[Any, Any]:
    """The first period to rebuild (the first changed one, less the use case's
    ``gold_reach_forward`` periods) and the first period of silver to read (less
    ``silver_context_periods`` more), counted over the periods silver has or had."""
    touched = {
        p
        for k in changed
        for e in (built.get(k), now.get(k))
        if e
        for p in e["periods"]
    }
    if not touched:
        return None, None
    every = sorted(
        {p for table in (built, now) for e in table.values() for p in e["periods"]}
    )
    first = every.index(min(touched))
    since = every[max(0, first - use_case.gold_reach_forward)]
    back = use_case.gold_reach_forward + use_case.silver_context_periods
    return since, every[max(0, first - back)]


def build_gold_table(
    use_case: UseCase,
    silver: LakeTable,
    previous: LakeTable,
    params: DataEngineeringParams,
) -> tuple[TableUpdate, dict[str, Any]]:
    """Gold of the periods whose silver changed since gold was built, and of every
    later period (a week's customer history depends on the weeks before): from
    those periods' silver (and the use case's context periods before them) and the
    state parts of the periods before. A full build on a full refresh, on the first
    run, when the gold options or feature definitions changed, or for a use case
    without periods in silver."""
    builder = {
        "definitions": use_case.feature_definitions,
        "options": params.gold,
        "layout": LAYOUT,
    }
    built = previous.meta.get("silver", {})
    now = {
        k: {"sha256": e.get("sha256"), "periods": e.get("periods", [])}
        for k, e in silver.parts.items()
    }
    changed = sorted(k for k in set(built) | set(now) if built.get(k) != now.get(k))
    reason = ""
    if params.full_refresh:
        reason = "full refresh asked for"
    elif previous.version == 0:
        reason = "no gold yet"
    elif previous.meta.get("builder") != builder:
        reason = (
            "gold options or definitions changed: "
            f"{previous.meta.get('builder')} -> {builder}"
        )
    elif changed and not any(e["periods"] for e in now.values()):
        reason = "the use case's gold is built from all of silver"
    meta = {"builder": builder, "silver": now}
    if not reason and not changed:
        logger.info("%s: gold is up to date with silver", use_case.name)
        return TableUpdate(), {"mode": "unchanged", "periods_rebuilt": []}
    since = read_from = None
    state = None
    if reason:
        source = silver.read()
    else:
        since, read_from = _rebuild_window(use_case, changed, built, now)
        keep = [
            k
            for k, e in now.items()
            if e["periods"] and read_from is not None and max(e["periods"]) >= read_from
        ]
        source = silver.read(sorted(keep))
        if not source.empty:
            periods = use_case.silver_periods(source)
            source = source[(periods >= read_from).to_numpy()].reset_index(drop=True)
        if since is not None:
            state = states_before(previous, since, use_case.state_keys)
    if source.empty:
        gold, new_state = pd.DataFrame(), None
    else:
        gold, new_state = use_case.build_gold_increment(source, state, params.gold)
        if since is not None:  # context periods were read, not rebuilt
            t = use_case.time_column
            gold = gold[gold[t] >= since]
            if new_state is not None:
                new_state = {k: f[f[t] >= since] for k, f in new_state.items()}
    update = TableUpdate(
        meta=meta, replace_all=bool(reason), base_version=previous.version
    )
    for kind, key in use_case.state_keys.items():  # the latest state, compacted
        rows = [f[kind] for f in (state, new_state) if f is not None and kind in f]
        if rows:
            update.writes[f"{LATEST}{kind}"] = compact(
                pd.concat(rows, ignore_index=True), key, use_case.time_column
            )
    rebuilt: list[Any] = []
    tables = [(GOLD, gold)] + [
        (f"{STATE}{kind}/", frame) for kind, frame in (new_state or {}).items()
    ]
    for prefix, frame in tables:
        if frame is None or frame.empty:
            continue
        for period, rows in frame.groupby(use_case.time_column, sort=True):
            value = period.item() if hasattr(period, "item") else period
            name = f"{prefix}{value}"
            update.writes[name] = rows.reset_index(drop=True)
            update.entries[name] = {"period": value}
            if prefix == GOLD:
                rebuilt.append(value)
    if not reason and since is not None:
        update.deletes = {
            n
            for n, e in previous.parts.items()
            if e.get("period") is not None
            and e["period"] >= since
            and n not in update.writes
        }
    report = {
        "mode": "full" if reason else "incremental",
        "reason": reason or f"silver changed in {len(changed)} file(s): {changed[:10]}",
        "since_period": since,
        "periods_rebuilt": rebuilt,
        "rows_rebuilt": len(gold),
        "state_rows_rebuilt": {k: len(f) for k, f in (new_state or {}).items()},
    }
    logger.info(
        "%s: gold %s, %d period(s) rebuilt (%d rows)",
        use_case.name,
        report["mode"],
        len(rebuilt),
        len(gold),
    )
    return update, report


def publish_online_features(
    use_case: UseCase, silver: LakeTable, gold: LakeTable
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


def _scored(use_case: UseCase, gold: pd.DataFrame) -> pd.Series:
    """Rows a model is trained and judged on: labelled, and in service."""
    labelled = ~gold[use_case.label].isin(use_case.excluded_labels)
    return labelled & use_case.in_service(gold)


def read_split_window(
    use_case: UseCase, gold: LakeTable, split: SplitParams
) -> tuple[pd.DataFrame, int]:
    """The gold periods the split can use, in period order, and how many gold holds.

    Every period without ``split.train_periods``. With it, the periods are read
    newest first until the validation, test and training periods with rows to score
    are all in hand (and at least the latest periods): what the split then cuts from
    them is what it cuts from the whole of gold, and the older periods are never
    read."""
    by_period: dict[Any, list[str]] = {}
    for name in ordered(gold, GOLD):
        by_period.setdefault(gold.parts[name]["period"], []).append(name)
    if split.train_periods is None or not by_period:
        return read_gold(gold), len(by_period)
    wanted = split.validation_periods + split.test_periods + split.train_periods
    newest_first: list[pd.DataFrame] = []
    with_rows_to_score = 0
    for names in reversed(by_period.values()):
        if with_rows_to_score >= wanted and len(newest_first) >= split.latest_periods:
            break
        frame = gold.read(names)
        newest_first.append(frame)
        with_rows_to_score += bool(_scored(use_case, frame).any())
    return pd.concat(newest_first[::-1], ignore_index=True), len(by_period)


def split_by_time(
    use_case: UseCase,
    gold_table: LakeTable | pd.DataFrame,
    params: DataEngineeringParams,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Train on earlier periods, validate and test on the latest, as in production;
    with ``newest_train_share``, part of the test periods' units train too.

    Rows whose label is excluded (e.g. XX, unclassified) stay in gold and in the latest
    batch (drift looks at every row) but never enter train, validation or test; nor
    do rows out of service (``UseCase.out_of_service_column``), which the drift
    stage leaves out too.

    With ``split.train_periods``, train holds at most that many periods before
    validation (and, with ``newest_train_share``, its share of the test periods),
    and only the periods the split uses are read (:func:`read_split_window`).
    """
    split = params.split
    if isinstance(gold_table, LakeTable):
        gold, gold_periods = read_split_window(use_case, gold_table, split)
    else:
        gold = gold_table
        gold_periods = gold[use_case.time_column].nunique()
    t = gold[use_case.time_column]
    labelled = ~gold[use_case.label].isin(use_case.excluded_labels)
    in_service = use_case.in_service(gold)
    scored = labelled & in_service
    # Train, validation and test are cut from the periods with rows to score: a
    # day every car park was closed is still the drift batch (latest), never an
    # empty test day.
    periods = sorted(t[scored].unique())
    needed = split.validation_periods + split.test_periods + 1
    if len(periods) < needed:
        raise ValueError(
            f"{use_case.name}: gold has {len(periods)} period(s) of "
            f"'{use_case.time_column}' with rows to score ({periods}); the split "
            f"needs at least {needed} "
            f"(validation_periods={split.validation_periods}, "
            f"test_periods={split.test_periods}, and one to train on)"
        )
    test_p = periods[-split.test_periods :]
    val_p = periods[-needed + 1 : -split.test_periods]
    train_p = periods[: -needed + 1]
    if split.train_periods is not None:
        train_p = train_p[-split.train_periods :]
    latest_p = sorted(t.unique())[-split.latest_periods :]
    train = gold[t.isin(train_p) & scored]
    validation = gold[t.isin(val_p) & scored].reset_index(drop=True)
    test = gold[t.isin(test_p) & scored]
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
        # the rolling training window (None: every period), and the periods of gold
        # the split read out of those it holds
        "train_window": split.train_periods,
        "gold_periods_read": int(t.nunique()),
        "gold_periods": int(gold_periods),
        "rows": {
            "gold": len(gold),
            "train": len(train),
            "validation": len(validation),
            "test": len(test),
            "latest": len(latest),
            "excluded_label_rows": int((~labelled).sum()),
            "out_of_service_rows": int((~in_service).sum()),
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
