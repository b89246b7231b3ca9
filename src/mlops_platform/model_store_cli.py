"""``mlops-model``: look at and roll back the production model store.

    mlops-model status   [--use-case retail] [--verify] [--json]
    mlops-model history  [--use-case retail] [--limit 20] [--json]
    mlops-model rollback --use-case retail [--reason "..."] [--json]

Without ``--use-case``, status and history cover every use case in the store. The
default output is a short view for people; ``--json`` prints one JSON document on
stdout for machines (``mlops-model status --json | jq``); messages and logs go to
stderr. Reads the store root and MLflow tracking URI from the project configuration
(``--env`` picks the environment) without starting a Kedro session, so it acts on
the same store ``kedro run`` wrote and answers in about a second.
``status --verify`` reads the production bundle as a new serving replica would: every
file's SHA-256 against the manifest, and the golden rows through the model and through
``model.onnx``; it exits 1 naming the file or the row that does not match. A rollback
moves the production pointer back to the previous champion, moves the
MLflow ``champion`` alias back to that model's registered version, and appends an
audit record.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlops_platform.model_store import ModelStore, ModelStoreError


def _project_config(
    env: str | None, project_path: Path
) -> tuple[str, dict, str | None, dict]:
    from kedro.config import MissingConfigException  # noqa: PLC0415

    from mlops_platform.config import config_loader  # noqa: PLC0415

    config = config_loader(project_path, env)
    root = config["globals"]["data_root"].rstrip("/") + "/models"
    if not root.startswith(("s3://", "/")) and "://" not in root:
        root = str(project_path / root)
    try:
        mlflow_conf = config["mlflow"] or {}
    except MissingConfigException:
        mlflow_conf = {}
    uri = (mlflow_conf.get("server") or {}).get("mlflow_tracking_uri")
    # the same storage options as the catalog's datasets (S3 endpoint on aws)
    options = dict((config["credentials"] or {}).get("lake") or {})
    try:
        registry = dict(config["model_registry"] or {})
    except MissingConfigException:  # only conf/aws has one
        registry = {}
    return root, options, uri, registry


def _store_config(args: argparse.Namespace) -> tuple[str, dict, str | None, dict]:
    project = Path(args.project_path).resolve()
    root, options, uri, registry = (
        (args.root, {}, args.tracking_uri, {})
        if args.root
        else _project_config(args.env, project)
    )
    if uri and uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        uri = "sqlite:///" + str(project / uri.removeprefix("sqlite:///"))
    return root, options, uri, registry


def use_cases_in(root: str, options: dict) -> list[str]:
    """The use cases with a production pointer or an audit log in the store."""
    import fsspec  # noqa: PLC0415

    fs, base = fsspec.core.url_to_fs(root.rstrip("/"), **options)
    found: set[str] = set()
    for folder, suffix in (("production", ".json"), ("audit", ".jsonl")):
        path = f"{base}/{folder}"
        if fs.exists(path):
            for name in fs.ls(path, detail=False):
                leaf = name.rstrip("/").rsplit("/", 1)[-1]
                if leaf.endswith(suffix):
                    found.add(leaf.removesuffix(suffix))
    return sorted(found)


def verify(store: ModelStore, version: str) -> dict[str, Any]:
    """Check a bundle's files and golden rows; raise ModelStoreError naming what."""
    import numpy as np  # noqa: PLC0415
    import pandas as pd  # noqa: PLC0415

    from mlops_platform.flavours import get_flavour  # noqa: PLC0415
    from mlops_platform.onnx_export import run_onnx  # noqa: PLC0415
    from mlops_platform.use_cases import get_use_case  # noqa: PLC0415

    base = f"{store.root}/versions/{store.use_case}/{version}"
    try:
        bundle = store.load_bundle(version, verify=True)
    except ModelStoreError:
        raise
    except Exception as exc:  # a missing or unreadable file
        raise ModelStoreError(f"{base}: cannot be read: {exc!r}") from None
    use_case = get_use_case(store.use_case)
    task, flavour = use_case.task, get_flavour(bundle.flavour)
    golden = bundle.golden
    rows = pd.DataFrame(golden.get("rows") or [])
    if rows.empty:
        raise ModelStoreError(f"{base}/golden.json: no golden rows")
    x = use_case.model_input(rows)
    classes = bundle.input_schema.get("classes") or []
    expected = np.array(
        [
            [e["probabilities"][c] for c in classes] if classes else [e["prediction"]]
            for e in golden["expected"]
        ],
        dtype=float,
    )
    checked: dict[str, Any] = {"files": len(bundle.manifest.get("files", {})) + 1}
    got = task.outputs(flavour, bundle.model, x)
    ok, parity = task.compare(expected, got)
    if not ok:
        name = bundle.manifest["model"]["file"]
        raise ModelStoreError(f"{base}/{name}: golden rows do not match: {parity}")
    checked["golden_rows"] = len(rows)
    info = (bundle.manifest.get("runtimes") or {}).get("onnx") or {}
    if bundle.onnx is not None:
        try:
            got = run_onnx(
                bundle.onnx,
                flavour.onnx_feed(bundle.model, x, info),
                task.output_name,
                info.get("max_rows_per_call"),
            )
        except Exception as exc:
            raise ModelStoreError(f"{base}/model.onnx: cannot run: {exc}") from None
        ok, parity = task.compare(expected, got)
        if not ok:
            raise ModelStoreError(
                f"{base}/model.onnx: golden rows do not match: {parity}"
            )
        checked["onnx"] = "golden rows matched"
    return {"version": version, "verified": True, **checked}


def _print(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


def _scores(block: dict[str, Any] | None) -> str:
    numbers = {
        k: v for k, v in (block or {}).items() if isinstance(v, int | float) and k
    }
    return ", ".join(f"{k} {v:.4g}" for k, v in numbers.items()) or "-"


def status_of(store: ModelStore, verify_bundle: bool) -> dict[str, Any]:
    pointer = store.read_pointer()
    if pointer is None:
        return {"use_case": store.use_case, "production": None}
    version = pointer["version"]
    manifest = store.read_manifest(version)
    bundle = f"{store.root}/versions/{store.use_case}/{version}"
    metrics_path = store._p("versions", store.use_case, version, "metrics.json")
    metrics: dict[str, Any] = {}
    if store.fs.exists(metrics_path):
        metrics = json.loads(store.fs.cat_file(metrics_path))
    out = {
        "use_case": store.use_case,
        "production": version,
        "promoted_at": pointer.get("promoted_at"),
        "reason": pointer.get("reason"),
        "previous_champion": pointer.get("previous"),
        # earlier champions, newest last: what rollbacks go back through
        "rollback_stack": pointer.get("history", []),
        "model": manifest.get("model_name"),
        "flavour": (manifest.get("model") or {}).get("flavor"),
        "mlflow_run_id": (manifest.get("mlflow") or {}).get("run_id"),
        "registered_by_run": manifest.get("registered_by_run"),
        "test": metrics.get("headline") or {},
        "baselines": {
            name: {k: v for k, v in b.items() if isinstance(v, int | float)}
            for name, b in (metrics.get("baselines") or {}).items()
        },
        "test_periods": manifest.get("test_periods"),
        "bundle": bundle,
        "pointer": pointer,
        "manifest": manifest,
    }
    if verify_bundle:
        out["verification"] = verify(store, version)
    return out


def show_status(s: dict[str, Any]) -> str:
    if s["production"] is None:
        return f"{s['use_case']}: no production model"
    lines = [
        f"{s['use_case']}: {s['production']} in production since {s['promoted_at']}",
        f"  model      {s['model']} ({s['flavour']})",
        f"  test       {_scores(s['test'])}  (periods {s['test_periods']})",
    ]
    for name, b in s["baselines"].items():
        lines.append(f"  baseline   {name}: {_scores(b)}")
    lines += [
        f"  why        {s['reason']}",
        f"  previous   {s['previous_champion'] or 'none (first champion)'}",
        f"  MLflow run {s['mlflow_run_id'] or '-'}",
        f"  bundle     {s['bundle']}",
    ]
    if "verification" in s:
        v = s["verification"]
        lines.append(
            f"  verified   files sha256, {v.get('golden_rows')} golden rows"
            + (", model.onnx" if v.get("onnx") else "")
        )
    return "\n".join(lines)


def show_history(use_case: str, records: list[dict[str, Any]]) -> str:
    if not records:
        return f"{use_case}: no history"
    lines = [f"{use_case}:"]
    for r in records:
        when = str(r.get("at", ""))[:19].replace("T", " ")
        lines.append(
            f"  {when}  {r.get('action', '?'):<8} {r.get('version') or '-':<6} "
            f"{str(r.get('reason', ''))[:100]}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mlops-model", description=__doc__.split("\n")[0]
    )
    parser.add_argument("command", choices=["status", "history", "rollback"])
    parser.add_argument(
        "--use-case",
        default=None,
        help="status, history: every use case in the store if omitted",
    )
    parser.add_argument("--reason", default="manual rollback")
    parser.add_argument("--env", default=None, help="Kedro environment (default local)")
    parser.add_argument("--project-path", default=".")
    parser.add_argument(
        "--root", default=None, help="store root, overriding the project"
    )
    parser.add_argument("--tracking-uri", default=None)
    parser.add_argument(
        "--verify",
        action="store_true",
        help="status: check the production bundle's files and golden rows",
    )
    parser.add_argument("--json", action="store_true", help="JSON on stdout")
    parser.add_argument(
        "--limit", type=int, default=20, help="history: the last N records"
    )
    args = parser.parse_args(argv)
    if args.command == "rollback" and not args.use_case:
        parser.error("rollback needs --use-case")
    with _logs_on_stderr():
        return _command(args)


@contextlib.contextmanager
def _logs_on_stderr() -> Iterator[None]:
    """The platform's log records (the store's repairs) go to stderr only, never
    mixed with the output, whatever logging the host process set up."""
    log = logging.getLogger("mlops_platform")
    saved = (log.handlers[:], log.propagate, log.level)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    log.handlers, log.propagate = [handler], False
    log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.handlers, log.propagate = saved[0], saved[1]
        log.setLevel(saved[2])


def _command(args: argparse.Namespace) -> int:
    try:
        root, options, uri, registry_config = _store_config(args)
        names = [args.use_case] if args.use_case else use_cases_in(root, options)
        if not names:
            print(f"no use case has a model in {root}", file=sys.stderr)
            return 1
        from mlops_platform.aws.model_registry import (  # noqa: PLC0415
            SageMakerModelRegistry,
        )

        registry = SageMakerModelRegistry.from_config(registry_config)
        stores = [ModelStore(root, n, storage_options=options) for n in names]
        for store in stores:
            # finish what an interrupted promotion or rollback left
            # (docs/reliability.md)
            for line in store.reconcile():
                print(f"reconciled: {store.use_case}: {line}", file=sys.stderr)
            if registry is not None:
                for line in registry.follow(store):
                    print(
                        f"reconciled: SageMaker model registry {line}", file=sys.stderr
                    )
        if args.command == "status":
            found = [status_of(store, args.verify) for store in stores]
            if args.json:
                _print(found if args.use_case is None else found[0])
            else:
                print("\n\n".join(show_status(s) for s in found))
            if args.use_case and found[0]["production"] is None:
                return 1
        elif args.command == "history":
            logs = {s.use_case: s.read_audit()[-args.limit :] for s in stores}
            if args.json:
                _print(logs if args.use_case is None else logs[args.use_case])
            else:
                print("\n\n".join(show_history(u, r) for u, r in logs.items()))
        else:
            return _rollback(stores[0], args, uri, registry)
    except ModelStoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _rollback(
    store: ModelStore, args: argparse.Namespace, uri: str | None, registry: Any
) -> int:
    pointer = store.rollback(reason=args.reason)
    manifest = store.read_manifest(pointer["version"])
    run_id = manifest.get("registered_by_run") or (manifest.get("mlflow") or {}).get(
        "run_id"
    )
    alias_version = None
    if registry is not None:
        registry.follow(store, run_id, f"rollback from {pointer['previous']}")
    if run_id and uri:
        import mlflow  # noqa: PLC0415

        from mlops_platform import offline  # noqa: PLC0415
        from mlops_platform.tracking import ensure_champion_alias  # noqa: PLC0415

        offline.apply()
        mlflow.set_tracking_uri(uri)
        alias_version = ensure_champion_alias(store.use_case, store)
    result = {
        "use_case": store.use_case,
        "rolled_back_from": pointer["previous"],
        "production": pointer["version"],
        "mlflow_champion_alias": alias_version,
        "sagemaker_registry": "approved" if registry is not None else None,
    }
    if args.json:
        _print(result)
    else:
        print(
            f"{store.use_case}: rolled back {pointer['previous']} -> "
            f"{pointer['version']}; MLflow champion alias -> "
            f"{'version ' + alias_version if alias_version else 'not changed'}"
            + (
                f"; SageMaker model registry: {pointer['version']} approved again"
                if registry is not None
                else ""
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
