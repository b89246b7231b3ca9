"""Promotions and rollbacks racing on a real folder, each in its own process
(issue 12, item 2, local store).

Each racer is ``python -c`` running the model store's own code: it reads the champion
when it "starts" (what its gates judge against), waits on a start file so the racers
begin together, and commits. ``MLOPS_FAULT_PAUSE`` (mlops_platform.faults) holds a
racer inside the lease to make the overlap certain instead of likely. Checked after:
no crash, version numbers never collide, at most one promotion per judged champion,
and the pointer's history and the audit log tell the same story.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from mlops_platform.model_store import ModelStore
from tests.test_model_store import _request

RACER = r"""
import json, sys, time
from pathlib import Path
from mlops_platform.model_store import ChampionChanged, ModelStore
from tests.test_model_store import _request
root, action, start = sys.argv[1], sys.argv[2], Path(sys.argv[3])
store = ModelStore(root, "retail", storage_options=json.loads(sys.argv[5]))
judged = store.current_version()            # what this run's gates compare with
Path(sys.argv[4]).touch()                   # ready: imported, champion read
while not start.exists():
    time.sleep(0.01)
try:
    if action == "promote":
        req = _request("race")
        req.judged_against, req.recheck = judged, True
        out = {"promoted": store.commit_promotion(req, {})}
    else:
        out = {"rolled_back_to": store.rollback("race")["version"]}
except ChampionChanged as exc:
    out = {"refused": str(exc)}
print(json.dumps({"judged": judged, **out}))
"""


def racer(root: str, action: str, start: Path, pause: str | None = None, options=None):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    if pause:
        env["MLOPS_FAULT_PAUSE"] = pause
    ready = start.parent / f"ready-{action}-{time.monotonic_ns()}"
    READY.append(ready)
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            RACER,
            str(root),
            action,
            str(start),
            str(ready),
            json.dumps(options or {}),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


READY: list[Path] = []


def wait_ready() -> None:
    """Until every racer started so far has imported and read the champion."""
    deadline = time.monotonic() + 60
    while not all(p.exists() for p in READY):
        assert time.monotonic() < deadline, "racers not ready"
        time.sleep(0.05)
    READY.clear()


def results(*procs) -> list[dict]:
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, stderr[-2000:]
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


@pytest.fixture
def store(tmp_path) -> ModelStore:
    s = ModelStore(str(tmp_path / "models"), "retail")
    s.commit_promotion(_request("first"), {})
    return s


def consistent(store: ModelStore) -> None:
    """The pointer's history is the audit's promotions and rollbacks, replayed."""
    pointer = store.read_pointer()
    assert pointer is not None
    chain: list[str] = []
    for rec in store.read_audit():
        if rec["action"] == "promote":
            chain.append(rec["version"])
        elif rec["action"] == "rollback":
            assert chain.pop() == rec["previous"]
            assert chain[-1] == rec["version"]
    assert chain[-1] == pointer["version"]
    assert chain[:-1] == pointer["history"]
    versions = store.list_versions()
    assert len(versions) == len(set(versions))
    assert set(chain) <= set(versions)


def test_two_promotions_started_together(store, tmp_path):
    start = tmp_path / "start"
    procs = [
        racer(store.root, "promote", start, "lease_acquired:1.5") for _ in range(2)
    ]
    wait_ready()  # both have read the champion (v0001)
    start.touch()
    outcomes = results(*procs)
    assert all(o["judged"] == "v0001" for o in outcomes)
    promoted = [o["promoted"] for o in outcomes if "promoted" in o]
    refused = [o["refused"] for o in outcomes if "refused" in o]
    assert promoted == ["v0002"], outcomes  # one wins; no "Directory not empty"
    assert len(refused) == 1 and "judged the challenger against v0001" in refused[0]
    assert "the champion is now v0002" in refused[0]
    assert store.list_versions() == ["v0001", "v0002"]
    consistent(store)


def test_a_promotion_judged_after_another_commits_is_promoted(store, tmp_path):
    """Started 3 s apart: the second run judges against the first one's champion,
    so both promote, in order, with distinct versions."""
    first_start, second_start = tmp_path / "a", tmp_path / "b"
    first = racer(store.root, "promote", first_start)
    wait_ready()
    first_start.touch()
    (one,) = results(first)
    time.sleep(3)
    second = racer(store.root, "promote", second_start)
    wait_ready()
    second_start.touch()
    (two,) = results(second)
    assert one == {"judged": "v0001", "promoted": "v0002"}
    assert two == {"judged": "v0002", "promoted": "v0003"}
    consistent(store)


@pytest.mark.parametrize("first", ["rollback", "promote"])
def test_a_rollback_racing_a_promotion_loses_nothing(store, tmp_path, first):
    """Whichever takes the lease first (it holds it 1.5 s; the other starts 0.3 s
    later and waits), the pointer history and the audit agree, and a promotion is
    never dropped from the history."""
    store.commit_promotion(_request("second"), {})  # v0002, previous v0001
    go_first, go_second = tmp_path / "first", tmp_path / "second"
    slow = "lease_acquired:1.5"
    if first == "promote":
        promotion = racer(store.root, "promote", go_first, slow)
        rollback = racer(store.root, "rollback", go_second)
    else:
        rollback = racer(store.root, "rollback", go_first, slow)
        promotion = racer(store.root, "promote", go_second)
    wait_ready()  # both have read the champion (v0002)
    go_first.touch()
    time.sleep(0.3)
    go_second.touch()
    p, r = results(promotion, rollback)
    assert p["judged"] == "v0002"
    if first == "promote":  # committed first; the rollback then undoes it
        assert p["promoted"] == "v0003" and r["rolled_back_to"] == "v0002"
        assert store.read_pointer()["history"] == ["v0001"]
    else:  # the rollback first: the promotion's judgment is stale
        assert r["rolled_back_to"] == "v0001"
        assert "the champion is now v0001" in p["refused"]
        assert store.current_version() == "v0001"
    consistent(store)


def test_a_killed_lease_holder_leaves_no_stale_lease(store, tmp_path):
    start = tmp_path / "start"
    start.touch()
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).parents[1]),
        "MLOPS_FAULT_PAUSE": "lease_acquired:60",
    }
    holder = subprocess.Popen(
        [sys.executable, "-c", RACER, str(store.root), "promote", str(start),
         str(tmp_path / "ready-holder"), "{}"],
        env=env,
    )  # fmt: skip
    lease = Path(store.root) / "leases" / "retail.lease"
    deadline = time.monotonic() + 30
    mine = f'"pid": {holder.pid}'
    while time.monotonic() < deadline and (
        not lease.exists() or mine not in lease.read_text()
    ):
        time.sleep(0.1)
    assert f'"pid": {holder.pid}' in lease.read_text()
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    begun = time.monotonic()
    version = store.commit_promotion(_request("after the kill"), {})
    assert time.monotonic() - begun < 5  # no waiting out a stale lease
    assert version == "v0002" and store.current_version() == "v0002"
    consistent(store)


# ------------------------------------------------------------------------ on S3
@pytest.fixture(scope="module")
def moto():
    from mlops_platform.aws.moto_lake import create_bucket, moto_server

    with moto_server() as endpoint:
        create_bucket(endpoint, "race-lake")
        yield endpoint


def s3_store(endpoint: str, prefix: str) -> tuple[ModelStore, dict]:
    from mlops_platform.aws.moto_lake import REGION

    options = {
        "client_kwargs": {"endpoint_url": endpoint, "region_name": REGION},
        "key": "testing",
        "secret": "testing",
    }
    store = ModelStore(f"s3://race-lake/{prefix}", "retail", storage_options=options)
    store.commit_promotion(_request("first"), {})
    return store, options


def test_two_promotions_started_together_on_s3(moto, tmp_path):
    """The same race on a moto server: the lease is an object created with
    If-None-Match, so exactly one racer holds it; the other waits, then finds the
    champion changed."""
    store, options = s3_store(moto, "together")
    start = tmp_path / "start"
    procs = [
        racer(store.root, "promote", start, "lease_acquired:1.5", options)
        for _ in range(2)
    ]
    wait_ready()
    start.touch()
    outcomes = results(*procs)
    promoted = [o["promoted"] for o in outcomes if "promoted" in o]
    refused = [o["refused"] for o in outcomes if "refused" in o]
    assert promoted == ["v0002"], outcomes
    assert len(refused) == 1 and "the champion is now v0002" in refused[0]
    assert store.list_versions() == ["v0001", "v0002"]
    consistent(store)


def test_an_expired_s3_lease_is_taken_over(moto, monkeypatch):
    """A holder that died leaves its lease object; once it has expired the next
    promotion deletes it (If-Match on the ETag it read) and goes on."""
    from mlops_platform import model_store

    store, _ = s3_store(moto, "expired")
    client = store._s3()
    client.put_object(
        Bucket="race-lake",
        Key="expired/leases/retail.lease",
        Body=json.dumps({"pid": 1, "expires": time.time() - 1}).encode(),
    )
    monkeypatch.setattr(model_store, "LEASE_TTL_S", 60.0)
    begun = time.monotonic()
    assert store.commit_promotion(_request("after"), {}) == "v0002"
    assert time.monotonic() - begun < 10
    keys = client.list_objects_v2(Bucket="race-lake", Prefix="expired/leases/")
    assert keys.get("KeyCount", 0) == 0  # released
    consistent(store)


def test_a_retried_step_takes_over_its_killed_attempts_s3_lease(moto, monkeypatch):
    """SageMaker retries a step only after the attempt before it ended: a lease held
    under the retry's own owner (execution and pipeline, set by the step entrypoint)
    is a dead attempt's and is taken over at once. Another owner's live lease is
    not: the promotion waits for it and gives up at its timeout."""
    from mlops_platform import model_store

    store, _ = s3_store(moto, "retried")
    client = store._s3()
    key = "retried/leases/retail.lease"
    owner = "arn:aws:sagemaker:eu-west-1:1:pipeline/p/execution/x1#retail.evaluation"
    live = {"pid": 1, "owner": owner, "expires": time.time() + 3600}
    monkeypatch.setattr(model_store, "LEASE_TTL_S", 3600.0)

    client.put_object(Bucket="race-lake", Key=key, Body=json.dumps(
        {**live, "owner": owner.replace("x1", "x0")}).encode())  # fmt: skip
    monkeypatch.setenv(model_store.LEASE_OWNER_ENV, owner)
    with pytest.raises(model_store.ModelStoreError, match="lease is held by"):
        with store.lease(timeout_s=1.0):
            pass  # another execution's live lease: not taken

    client.put_object(Bucket="race-lake", Key=key, Body=json.dumps(live).encode())
    monkeypatch.delenv(model_store.LEASE_OWNER_ENV)
    with pytest.raises(model_store.ModelStoreError, match="lease is held by"):
        with store.lease(timeout_s=1.0):
            pass  # no owner of its own (a local run): it waits like anyone

    monkeypatch.setenv(model_store.LEASE_OWNER_ENV, owner)
    begun = time.monotonic()
    assert store.commit_promotion(_request("retry"), {}) == "v0002"
    assert time.monotonic() - begun < 10
    keys = client.list_objects_v2(Bucket="race-lake", Prefix="retried/leases/")
    assert keys.get("KeyCount", 0) == 0  # released
    consistent(store)


def test_the_run_summary_says_when_the_commit_was_refused(tmp_path, capsys):
    """A run whose gates passed against a champion that changed meanwhile: the store
    refuses the commit, and the printed summary says so under the gate's decision
    (the hook here is the project's LifecycleHooks, called as Kedro calls it)."""
    from mlops_platform.datasets import ModelStoreDataset
    from mlops_platform.hooks import LifecycleHooks

    dataset = ModelStoreDataset(path=str(tmp_path / "models"), use_case="retail")
    dataset.store.commit_promotion(_request("first"), {})
    judged = dataset.store.current_version()
    dataset.store.commit_promotion(_request("someone else's"), {})  # meanwhile
    hooks = LifecycleHooks()
    node = SimpleNamespace(name="retail.promote")  # the hook reads only its name
    hooks.after_dataset_saved(
        "retail.summary_lifecycle", "- decision: promote\n", node=node
    )
    req = _request("this run")
    req.judged_against, req.recheck = judged, True
    dataset.save(req)
    hooks.after_dataset_saved("retail.model_store", req, node=node)
    hooks.after_pipeline_run()
    printed = capsys.readouterr().out
    assert "- decision: promote\n- commit: NOT promoted" in printed
    assert judged in printed and dataset.store.current_version() == "v0002"
    # and the summary names the champion in force and where its bundle is
    assert (
        f"- champion now: v0002 (bundle {tmp_path}/models/versions/retail/v0002)"
        in (printed)
    )
