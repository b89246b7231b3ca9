"""Record every AWS API call a Python process makes (tests only).

A test puts this folder on ``PYTHONPATH`` and names a file in ``MLOPS_AWS_CALL_LOG``;
every botocore session of the process (boto3's, and aiobotocore's under s3fs) then
appends one JSON line per call before it is sent: service, operation, the request's
parameters (bodies left out), the process's uid. Lines are appended with O_APPEND, one
write each, so processes may share the file. Without the variable nothing changes.
With ``MLOPS_AWS_CALL_STACKS=1`` each line also carries the caller's frames outside
botocore, aiobotocore and asyncio (which code made the call).
"""

from __future__ import annotations

import json
import os

LOG = os.environ.get("MLOPS_AWS_CALL_LOG")
STACKS = os.environ.get("MLOPS_AWS_CALL_STACKS") == "1"
LIBRARIES = ("/botocore/", "/aiobotocore/", "/asyncio/", "/sitecustomize.py")


def _stack() -> list[str]:
    import traceback

    frames = traceback.extract_stack()[:-2]
    return [
        f"{f.filename}:{f.lineno} {f.name}"
        for f in frames
        if not any(part in f.filename for part in LIBRARIES)
    ][-8:]


def _jsonable(value, depth=0):
    if isinstance(value, dict):
        return {str(k): _jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v, depth + 1) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return f"<{type(value).__name__}>"  # bodies, streams, datetimes


def _record(params=None, model=None, **_):
    if model is None or LOG is None:
        return
    body = {k: v for k, v in (params or {}).items() if k != "Body"}
    entry = {
        "service": model.service_model.service_name,
        "operation": model.name,
        "params": _jsonable(body),
        "uid": os.getuid(),
    }
    if STACKS:
        entry["stack"] = _stack()
    line = json.dumps(entry)
    fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


if LOG:
    import botocore.session

    _init = botocore.session.Session.__init__

    def _init_and_record(self, *args, **kwargs):
        _init(self, *args, **kwargs)
        self.register("before-parameter-build", _record)

    botocore.session.Session.__init__ = _init_and_record
