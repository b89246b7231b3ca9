"""Publishing the online feature store (mlops_platform.online_store): killed at each
step, on a folder and on S3 (a moto server on loopback), the store the service reads
is always a whole one, the old or the new, and the next publish cleans up.

The victim is a real process running the platform's own publish, killed with SIGKILL
at a named point (``MLOPS_FAULT_KILL``); the reader is the service's own code
(``mlops_serving.store`` and ``mlops_serving.online``), as the manager runs it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from mlops_serving.online import OnlineStore, read_online_pointer
from mlops_serving.store import open_store

from mlops_platform.online_store import OnlineStoreWriter, build_sqlite

REPO = Path(__file__).parents[1]
VICTIM = r"""
import json, sys
import pandas as pd
from mlops_platform.online_store import OnlineStoreWriter, build_sqlite
root, n, options = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
customers = pd.DataFrame({"baskets": [float(n)]}, index=pd.Index(["C1"], name="key"))
meta = {"use_case": "retail", "definitions": 1, "generation": n}
data = build_sqlite({"customers": customers}, meta)
OnlineStoreWriter(root, "retail", options).publish(data, meta)
"""
POINTS = ("online_store.file_written", "online_store.pointer_written")


def publish(root: str, n: int, options: dict | None = None, kill: str | None = None):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if kill:
        env["MLOPS_FAULT_KILL"] = kill
    proc = subprocess.run(
        [sys.executable, "-c", VICTIM, root, str(n), json.dumps(options or {})],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    expected = -signal.SIGKILL if kill else 0
    assert proc.returncode == expected, (proc.returncode, proc.stderr[-2000:])


def served_generation(root: str, endpoint: str | None = None) -> int:
    """What the service would load: pointer, file, checksum, tables."""
    reader = open_store(root, endpoint)
    pointer = read_online_pointer(reader.read("online/retail.json"), root)
    data = reader.read(pointer["path"])
    store = OnlineStore.from_bytes(
        data,
        use_case="retail",
        version=pointer["version"],
        entities=("customers",),
        definitions=1,
        loaded_at="now",
    )
    assert store.get("customers", "C1")["baskets"] == store.meta["generation"]
    return int(store.meta["generation"])


@pytest.fixture(scope="module")
def moto():
    from mlops_platform.aws.moto_lake import create_bucket, moto_server

    with moto_server() as endpoint:
        create_bucket(endpoint, "online-lake")
        yield endpoint


@pytest.fixture(params=["local", "s3"])
def where(request, tmp_path):
    if request.param == "local":
        return str(tmp_path / "models"), None, {}
    from mlops_platform.aws.moto_lake import REGION

    endpoint = request.getfixturevalue("moto")
    options = {
        "client_kwargs": {"endpoint_url": endpoint, "region_name": REGION},
        "key": "testing",
        "secret": "testing",
    }
    return f"s3://online-lake/{tmp_path.name}/models", endpoint, options


@pytest.mark.parametrize("point", POINTS)
def test_a_killed_publish_leaves_a_whole_store(where, point, monkeypatch):
    root, endpoint, options = where
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    publish(root, 1, options)
    publish(root, 2, options, kill=point)
    # killed after the file: the old store; after the pointer: the new one
    expected = 1 if point == "online_store.file_written" else 2
    assert served_generation(root, endpoint) == expected
    writer = OnlineStoreWriter(root, "retail", options)
    folder = f"{writer._root_path}/features/retail"
    assert len(writer.fs.ls(folder)) == 2  # the orphan (or the new) and the current
    publish(root, 3, options)
    assert served_generation(root, endpoint) == 3
    # the next publish left the current file and the one before it, nothing else
    pointer = writer.read_pointer()
    names = sorted(Path(p).name for p in writer.fs.ls(folder, refresh=True))
    assert Path(pointer["path"]).name in names and len(names) == 2


def test_an_unchanged_store_keeps_its_pointer(tmp_path):
    root = str(tmp_path / "models")
    customers = pd.DataFrame({"baskets": [1.0]}, index=pd.Index(["C1"], name="key"))
    meta = {"use_case": "retail", "definitions": 1}
    data = build_sqlite({"customers": customers}, meta)
    assert build_sqlite({"customers": customers}, meta) == data  # deterministic
    writer = OnlineStoreWriter(root, "retail")
    first = writer.publish(data, meta)
    reader = open_store(root)
    mark = reader.fingerprint("online/retail.json")
    assert writer.publish(data, meta) == first
    assert reader.fingerprint("online/retail.json") == mark


def test_tables_and_keys_are_checked(tmp_path):
    ok = pd.DataFrame({"v": [1.0, 2.0]}, index=pd.Index(["a", "b"]))
    with pytest.raises(ValueError, match="key 'a' appears more than once"):
        build_sqlite({"t": ok.rename(index={"b": "a"})}, {})
    with pytest.raises(ValueError, match="not an identifier"):
        build_sqlite({"t; DROP TABLE meta": ok}, {})
    data = build_sqlite({"t": ok}, {"use_case": "retail", "definitions": 2})
    with pytest.raises(ValueError, match=r"definitions version 2.*computes version 1"):
        OnlineStore.from_bytes(
            data,
            use_case="retail",
            version="x",
            entities=("t",),
            definitions=1,
            loaded_at="now",
        )
    with pytest.raises(ValueError, match=r"tables \['customers'\] missing"):
        OnlineStore.from_bytes(
            build_sqlite({"t": ok}, {"use_case": "retail", "definitions": 1}),
            use_case="retail",
            version="x",
            entities=("customers",),
            definitions=1,
            loaded_at="now",
        )
    with pytest.raises(ValueError, match="not a readable store"):
        OnlineStore.from_bytes(
            b"not sqlite at all" * 100,
            use_case="retail",
            version="x",
            entities=(),
            definitions=1,
            loaded_at="now",
        )
