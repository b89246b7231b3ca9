"""Kill a promotion, a rollback and the silver write at every step boundary, then look
at what is left (issue 12: the fault-injection suite).

Each victim is a real process (``python -c`` running the platform's own code) killed
with SIGKILL at a named point (``MLOPS_FAULT_KILL``, mlops_platform.faults): no
``finally``, no cleanup, as an out-of-memory kill would. Afterwards the next user of
the store (``reconcile``, which every run, every ``mlops-model`` command and every
commit start with) must leave: a valid pointer whose bundle verifies, an audit log that
replays to the pointer's history, no intent, no temporary file and no orphan bundle;
serving's own pointer reader must take the pointer's version; and the next promotion
must work.

Every store point runs on a local folder, and the points where S3's code differs on
S3 too (a moto server on loopback, ``S3_POINTS``). On S3
the killed victim leaves its lease object behind; the victim runs with
``MLOPS_LEASE_TTL_S=1`` (the only substitution) so that the lease expires during the
test and the reconciler's takeover of an expired lease is part of what is checked
(in production it expires after 15 minutes).
"""

from __future__ import annotations

import json
import os
import posixpath
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mlops_platform.model_store import ModelStore
from tests.test_model_store import _request
from tests.test_model_store_races import consistent

REPO = Path(__file__).parents[1]
VICTIM = r"""
import json, sys
from mlops_platform.model_store import ModelStore
from tests.test_model_store import _request
store = ModelStore(sys.argv[1], "retail", storage_options=json.loads(sys.argv[3]))
if sys.argv[2] == "promote":
    store.commit_promotion(_request("victim"), {})
else:
    store.rollback("victim")
"""

# point -> the champion after recovery: the old one (nothing was switched yet) or the
# new one (the intent was written: the transaction is finished by the reconciler)
PROMOTE = {
    "lease_acquired": "v0002",
    "bundle_file_written": "v0002",
    "bundle_written": "v0002",
    "promote_intent_written": "v0003",
    "promote_pointer_written": "v0003",
    "promote_audit_appended": "v0003",
}
ROLLBACK = {
    "lease_acquired": "v0002",
    "rollback_intent_written": "v0001",
    "rollback_pointer_written": "v0001",
    "rollback_audit_appended": "v0001",
}


def kill_at(root: str, action: str, where: str, options: dict | None = None) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "MLOPS_FAULT_KILL": where,
        "MLOPS_LEASE_TTL_S": "1",  # an S3 lease left by the kill expires soon
    }
    proc = subprocess.run(
        [sys.executable, "-c", VICTIM, root, action, json.dumps(options or {})],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr[-2000:])


def leftovers(store: ModelStore) -> list[str]:
    root = store._root_path.rstrip("/")
    paths = [p.removeprefix(root + "/") for p in store.fs.find(root)]
    return sorted(
        p for p in paths
        if posixpath.basename(p).startswith(".tmp-") or p.endswith(".tmp")
        or "/.tmp-" in p or p.startswith("intents/")
        or (p.startswith("leases/") and not store.local)  # S3: a lease object
    )  # fmt: skip


@pytest.fixture(scope="module")
def moto():
    from mlops_platform.aws.moto_lake import create_bucket, moto_server

    with moto_server() as endpoint:
        create_bucket(endpoint, "fault-lake")
        yield endpoint


# On S3 the points where its code differs from a folder's: a bundle's files written
# straight into its prefix, and the pointer and audit written as whole objects (the
# intent and reconcile logic is the same code on both).
S3_POINTS = {
    ("promote", "bundle_file_written"),
    ("promote", "promote_intent_written"),
    ("promote", "promote_pointer_written"),
    ("rollback", "rollback_audit_appended"),
}


@pytest.fixture
def store(request, tmp_path) -> ModelStore:
    if request.param == "local":
        s = ModelStore(str(tmp_path / "models"), "retail")
    else:
        from mlops_platform.aws.moto_lake import REGION

        endpoint = request.getfixturevalue("moto")
        options = {
            "client_kwargs": {"endpoint_url": endpoint, "region_name": REGION},
            "key": "testing",
            "secret": "testing",
        }
        s = ModelStore(
            f"s3://fault-lake/{tmp_path.name}/models", "retail", storage_options=options
        )
    s.commit_promotion(_request("first"), {})
    s.commit_promotion(_request("second"), {})  # v0002, previous v0001
    return s


POINTS = [
    *(("promote", w, c) for w, c in PROMOTE.items()),
    *(("rollback", w, c) for w, c in ROLLBACK.items()),
]


@pytest.mark.parametrize(("store", "action", "where", "champion"), [
    *(("local", *p) for p in POINTS),
    *(("s3", *p) for p in POINTS if p[:2] in S3_POINTS),
], indirect=["store"])  # fmt: skip
def test_killed_at_a_step_boundary_the_next_user_repairs(
    store, action, where, champion, monkeypatch
):
    from mlops_serving.store import open_store, read_pointer

    kill_at(store.root, action, where, store._options)
    done = store.reconcile()
    assert store.current_version() == champion, done
    store.load_bundle(champion, verify=True)  # the pointer names a sound bundle
    # and serving's own reader takes the pointer and serves that version
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(k, "testing")
    endpoint = (store._options.get("client_kwargs") or {}).get("endpoint_url")
    assert read_pointer(open_store(store.root, endpoint), "retail")["version"] == (
        champion
    )
    consistent(store)
    assert leftovers(store) == []
    versions = store.list_versions()
    assert versions == sorted({"v0001", "v0002", champion}), done  # no orphan
    if champion == "v0003" and action == "promote":
        assert any("finished an interrupted promote" in d for d in done)
    if where in ("bundle_written", "bundle_file_written"):
        assert any("orphan" in d or "partial" in d for d in done), done
    # and the store works on: the next promotion takes a name never given before,
    # not even to the bundle a killed promotion wrote and reconcile removed
    given = {r.get("version") for r in store.read_audit()} | set(versions)
    nxt = store.commit_promotion(_request("after"), {})
    assert nxt not in given and nxt == f"v{int(max(store.list_versions())[1:]):04d}"
    assert store.current_version() == nxt
    consistent(store)
    audit = store.read_audit()
    assert len({r["txn"] for r in audit if "txn" in r}) == sum(
        1 for r in audit if "txn" in r
    )  # no transaction logged twice


def test_an_alias_left_behind_by_a_crash_is_repaired(tmp_path, monkeypatch):
    """A run killed after the pointer switch and before the hook moved the MLflow
    alias leaves ``champion`` on the old model; the next run's model_store save
    calls ensure_champion_alias, which follows the pointer. Here the two MLflow runs
    and the store are set up directly (a local sqlite tracking store) instead of by
    two kedro runs, and the function the hook calls is checked."""
    import mlflow
    from sklearn.dummy import DummyClassifier

    from mlops_platform.tracking import (
        CHAMPION_ALIAS,
        ensure_champion_alias,
        registered_model_name,
    )

    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    name = registered_model_name("retail")
    x = pd.DataFrame({"a": [0.0, 1.0]})
    runs = []
    for _ in range(2):
        with mlflow.start_run() as run:
            mlflow.sklearn.log_model(
                DummyClassifier().fit(x, ["LA", "MM"]),
                name="model",
                registered_model_name=name,
                serialization_format="cloudpickle",
            )
            runs.append(run.info.run_id)
    client = mlflow.MlflowClient()
    client.set_registered_model_alias(name, CHAMPION_ALIAS, "1")  # the stale alias
    store = ModelStore(str(tmp_path / "models"), "retail")
    for run_id in runs:  # v0002 (run 2) is in production
        store.commit_promotion(_request("r"), {"mlflow": {"run_id": run_id}})
    assert ensure_champion_alias("retail", store) == "2"
    assert str(client.get_model_version_by_alias(name, CHAMPION_ALIAS).version) == "2"
    store.rollback("back")
    assert ensure_champion_alias("retail", store) == "1"
    assert str(client.get_model_version_by_alias(name, CHAMPION_ALIAS).version) == "1"
    # Evaluation in a run of its own (`kedro run --pipeline retail.evaluation` after a
    # training run): the manifest names the training run that registered the model,
    # and the alias follows it (before, it stayed put with a warning).
    with mlflow.start_run() as evaluation_run:
        pass
    request = _request("evaluated alone")
    request.manifest_extra = {"registered_by_run": runs[1]}
    store.commit_promotion(request, {"mlflow": {"run_id": evaluation_run.info.run_id}})
    assert ensure_champion_alias("retail", store) == "2"
