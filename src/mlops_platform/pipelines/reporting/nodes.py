"""The run summary a person reads at a glance (its own stage: it reads every report)."""

from __future__ import annotations

from typing import Any

from mlops_platform.use_cases.base import UseCase


def skipped_lines(ingest: dict[str, Any]) -> list[str]:
    """Summary lines for raw files that could not be read (skipped, not fatal)."""
    skipped = ingest.get("skipped_files") or {}
    if not skipped:
        return []
    return [f"- files skipped (unreadable): {len(skipped)}"] + [
        f"  - {reason}" for reason in skipped.values()
    ]


def summarise_lifecycle(
    use_case: UseCase,
    ingest: dict[str, Any],
    contract: dict[str, Any],
    split: dict[str, Any],
    drift_decision: dict[str, Any],
    training: dict[str, Any],
    evaluation: dict[str, Any],
    promotion: dict[str, Any],
) -> str:
    """The short summary a person reads at a glance."""
    files = ingest.get("incremental")
    lines = [f"## {use_case.name}: lifecycle summary", ""]
    if files:
        lines.append(
            f"- raw files: {len(files['new'])} new, {len(files['changed'])} changed, "
            f"{files['unchanged'] + len(files['touched'])} unchanged, "
            f"{len(files['removed'])} removed"
            + (f" ({files['reason']})" if files["full_refresh"] else "")
        )
    lines += [
        f"- rows in: {contract['rows_in']:,}; "
        f"quarantined: {contract['rows_quarantined']:,} "
        f"({100 * contract['quarantined_share']:.2f}%); "
        f"gold rows: {split['rows']['gold']:,} ("
        + (
            f"the newest {split['gold_periods_read']} of {split['gold_periods']} "
            f"periods, a training window of {split['train_window']}; "
            if split.get("train_window")
            and split["gold_periods_read"] < split["gold_periods"]
            else ""
        )
        + f"train {split['rows']['train']:,} / "
        f"validation {split['rows']['validation']:,} "
        f"/ test {split['rows']['test']:,}"
        + (
            f"; out of service, never trained or scored: {closed:,}"
            if (closed := split["rows"].get("out_of_service_rows"))
            else ""
        )
        + ")",
    ]
    if contract.get("rows_unreadable"):
        lines.append(
            f"- unreadable lines (quarantined): {contract['rows_unreadable']:,}"
        )
    lines += skipped_lines(ingest)
    lines.append(f"- drift: {drift_decision['reason']}")
    task = use_case.task
    if training.get("trained"):
        lines.append(f"- candidates (validation {training['selection_metric']}):")
        for name, r in training["candidates"].items():
            mark = "  <- challenger" if name == training["challenger"] else ""
            flavour = r.get("flavour", "sklearn")
            lines.append(
                f"  - {name} ({flavour}): {task.summary(r['validation'])}{mark}"
            )
    else:
        lines.append(f"- training: {training.get('reason')}")
    ch = evaluation.get("challenger")
    if ch:
        lines.append(f"- test: challenger {ch['name']} {task.summary(ch)}")
    cp = evaluation.get("champion")
    if cp and "error" not in cp:
        lines.append(f"- test: champion {cp['version']} {task.summary(cp)}")
    for name, b in evaluation.get("baselines", {}).items():
        lines.append(f"- baseline {name}: {task.summary(b)}")
    for against, c in (evaluation.get("comparisons") or {}).items():
        strong = against == f"baseline {use_case.strong_baseline}"
        lo, hi = c["interval"]
        lines.append(
            f"- challenger's lead over {'strong ' if strong else ''}{against}: "
            f"{c['metric']} {c['difference']:+.4f} ({c['confidence']:.0%} interval "
            f"{lo:+.4f} to {hi:+.4f}, {c['units']:,} "
            f"{'rows' if c['unit'] == 'row' else c['unit'] + ' values'})"
        )
    lines.append(f"- decision: {promotion['reason']}")
    return "\n".join(lines) + "\n"
