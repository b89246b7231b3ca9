"""Smoke-test a running serving deployment: ready, then one prediction per use case.

    python infra/scripts/smoke_test.py http://127.0.0.1:18080 --timeout 120

Waits for ``/ready``, reads ``/v1/models`` and ``/openapi.json``, posts each use case's
documented example to ``/v1/<use case>/predict`` and checks the answer names a class
and the model version that ``/v1/models`` reports. Exit 1 with the reason otherwise.
Standard library only, so it runs on a bare CI runner.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from typing import Any


class SmokeTestError(RuntimeError):
    """The deployment did not answer as a healthy release must."""


def _call(url: str, body: Any = None, timeout: float = 10.0) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - the URL is the operator's argument
        url, data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def wait_ready(base: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            status, last = _call(f"{base}/ready", timeout=5)
            if status == 200:
                return
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        time.sleep(2)
    raise SmokeTestError(f"{base}/ready not 200 within {timeout:.0f} s (last: {last})")


def check(base: str, timeout: float = 120.0) -> list[str]:
    """Run the smoke test; return one line per use case checked."""
    base = base.rstrip("/")
    wait_ready(base, timeout)
    status, models = _call(f"{base}/v1/models")
    if status != 200:
        raise SmokeTestError(f"/v1/models answered {status}: {models}")
    status, spec = _call(f"{base}/openapi.json")
    if status != 200:
        raise SmokeTestError(f"/openapi.json answered {status}")
    lines = []
    for model in models["models"]:
        use_case, version = model["use_case"], model.get("version")
        path = f"/v1/{use_case}/predict"
        try:
            body = spec["paths"][path]["post"]["requestBody"]["content"][
                "application/json"
            ]
            example = (
                body["examples"]["one record"]["value"]
                if "examples" in body
                else _example(spec, body["schema"])
            )
        except (KeyError, IndexError) as exc:
            raise SmokeTestError(f"{path}: no documented example ({exc})") from exc
        status, answer = _call(f"{base}{path}", example)
        if status != 200:
            raise SmokeTestError(f"POST {path} answered {status}: {answer}")
        predictions = answer.get("predictions") or [answer]
        first = predictions[0]
        if first.get("model_version") != version:
            raise SmokeTestError(
                f"{path}: answered by {first.get('model_version')!r}, "
                f"/v1/models says {version!r}"
            )
        answer_text = first.get("label", first.get("prediction"))
        if answer_text is None:
            raise SmokeTestError(f"{path}: no label or prediction in {first}")
        lines.append(f"{use_case} {version}: {answer_text}")
    if not lines:
        raise SmokeTestError("/v1/models lists no use case")
    return lines


def _example(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    """The first example of a request schema, following $ref and anyOf."""
    for _ in range(10):  # a bound on $ref chains
        if "examples" in schema:
            return schema["examples"][0]
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = spec["components"]["schemas"][name]
            continue
        for key in ("anyOf", "oneOf"):
            if key in schema:
                schema = schema[key][0]
                break
        else:
            raise KeyError("examples")
    raise KeyError("examples")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    try:
        for line in check(args.base_url, args.timeout):
            print(f"smoke test ok: {line}")
    except SmokeTestError as exc:
        print(f"smoke test FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
