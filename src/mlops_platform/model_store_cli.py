"""``mlops-model``: look at and roll back the production model store.

    mlops-model status   --use-case retail [--verify]
    mlops-model history  --use-case retail
    mlops-model rollback --use-case retail [--reason "..."]

Reads the store root and MLflow tracking URI from the Kedro project configuration
(``--env`` picks the environment), so it acts on the same store ``kedro run`` wrote.
``status --verify`` reads the production bundle as a new serving replica would: every
file's SHA-256 against the manifest, and the golden rows through the model and through
``model.onnx``; it exits 1 naming the file or the row that does not match. A rollback
moves the production pointer back to the previous champion, moves the
MLflow ``champion`` alias back to that model's registered version, and appends an
audit record.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mlops_platform.model_store import ModelStore, ModelStoreError


def _project_config(
    env: str | None, project_path: Path
) -> tuple[str, dict, str | None, dict]:
    from kedro.config import MissingConfigException  # noqa: PLC0415
    from kedro.framework.session import KedroSession  # noqa: PLC0415
    from kedro.framework.startup import bootstrap_project  # noqa: PLC0415

    bootstrap_project(project_path)
    with KedroSession.create(project_path=project_path, env=env) as session:
        context = session.load_context()  # type: ignore[attr-defined]
        config = context.config_loader
        root = config["globals"]["data_root"].rstrip("/") + "/models"
        if not root.startswith(("s3://", "/")) and "://" not in root:
            root = str(project_path / root)
        mlflow_conf = config.get("mlflow") or {}
        uri = (mlflow_conf.get("server") or {}).get("mlflow_tracking_uri")
        # the same storage options as the catalog's datasets (S3 endpoint on aws)
        options = dict((config.get("credentials") or {}).get("lake") or {})
        try:
            registry = dict(config["model_registry"] or {})
        except MissingConfigException:  # only conf/aws has one
            registry = {}
    return root, options, uri, registry


def _store(args: argparse.Namespace) -> tuple[ModelStore, str | None, dict]:
    project = Path(args.project_path).resolve()
    root, options, uri, registry = (
        (args.root, {}, args.tracking_uri, {})
        if args.root
        else _project_config(args.env, project)
    )
    if uri and uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        uri = "sqlite:///" + str(project / uri.removeprefix("sqlite:///"))
    return ModelStore(root, args.use_case, storage_options=options), uri, registry


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mlops-model", description=__doc__.split("\n")[0]
    )
    parser.add_argument("command", choices=["status", "history", "rollback"])
    parser.add_argument("--use-case", required=True)
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
    args = parser.parse_args(argv)
    store, uri, registry_config = _store(args)
    from mlops_platform.aws.model_registry import (  # noqa: PLC0415
        SageMakerModelRegistry,
    )

    registry = SageMakerModelRegistry.from_config(registry_config)
    try:
        # finish what an interrupted promotion or rollback left (docs/reliability.md)
        for line in store.reconcile():
            print(f"reconciled: {line}", file=sys.stderr)
        if registry is not None:
            for line in registry.follow(store):
                print(f"reconciled: SageMaker model registry {line}", file=sys.stderr)
        if args.command == "status":
            pointer = store.read_pointer()
            if pointer is None:
                print(f"{args.use_case}: no production model in {store.root}")
                return 1
            out = {
                "pointer": pointer,
                "manifest": store.read_manifest(pointer["version"]),
            }
            if args.verify:
                out["verification"] = verify(store, pointer["version"])
            _print(out)
        elif args.command == "history":
            _print(store.read_audit())
        else:
            pointer = store.rollback(reason=args.reason)
            manifest = store.read_manifest(pointer["version"])
            run_id = (manifest.get("mlflow") or {}).get("run_id")
            alias_version = None
            if registry is not None:
                registry.follow(store, run_id, f"rollback from {pointer['previous']}")
                print(f"SageMaker model registry: {pointer['version']} approved again")
            if run_id and uri:
                import mlflow  # noqa: PLC0415

                from mlops_platform.tracking import (  # noqa: PLC0415
                    ensure_champion_alias,
                )

                mlflow.set_tracking_uri(uri)
                alias_version = ensure_champion_alias(args.use_case, store)
            print(
                f"{args.use_case}: rolled back {pointer['previous']} -> "
                f"{pointer['version']}; MLflow champion alias -> "
                f"{'version ' + alias_version if alias_version else 'not changed'}"
            )
    except ModelStoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
