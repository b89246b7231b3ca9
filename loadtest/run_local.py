"""``make loadtest``: Locust, headless, against a real local server of the promoted
sentiment champion, for a bounded time; prints the figures and, with ``--write``,
puts them into docs/benchmarks.md (between the loadtest markers).

    .venv/bin/python loadtest/run_local.py [--users 8] [--seconds 30] [--write]

The server is ``mlops-serve`` (uvicorn, one worker, the ONNX runtime) on a free
loopback port, serving ``data/models`` (``make run`` promotes a champion). Locust runs
as its own process (``locust -f loadtest/locustfile.py --headless``), on the same
2 cores as the server: the figures are what one worker answers while sharing them.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BEGIN, END = "<!-- loadtest:begin -->", "<!-- loadtest:end -->"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode}) before {url}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:  # noqa: S310 (loopback)
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} not ready after {timeout} s")


def run(users: int, seconds: int, models: Path) -> tuple[list[dict], str]:
    if not (models / "production" / "sentiment.json").exists():
        raise SystemExit(f"no promoted sentiment model in {models}: run `make run`")
    port = free_port()
    env = {
        **os.environ,
        "SERVING_MODEL_STORE_URI": str(models),
        "SERVING_USE_CASES": "sentiment",
        "SERVING_PORT": str(port),
        "SERVING_HOST": "127.0.0.1",
        "SERVING_LOG_LEVEL": "warning",
    }
    server = subprocess.Popen(  # noqa: S603
        [str(BIN / "mlops-serve")], env=env, stdout=subprocess.DEVNULL
    )
    try:
        host = f"http://127.0.0.1:{port}"
        wait_ready(f"{host}/ready", server)
        with tempfile.TemporaryDirectory() as tmp:
            prefix = Path(tmp) / "locust"
            subprocess.run(  # noqa: S603
                [str(BIN / "locust"), "-f", str(REPO / "loadtest/locustfile.py"),
                 "--headless", "--host", host, "-u", str(users), "-r", str(users),
                 "-t", f"{seconds}s", "--csv", str(prefix), "--only-summary",
                 "--loglevel", "WARNING", "--exit-code-on-error", "0"],
                check=True,
            )  # fmt: skip
            with open(f"{prefix}_stats.csv", newline="") as f:
                rows = list(csv.DictReader(f))
        server_rss = _rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return rows, server_rss


def _rss_mb(pid: int) -> str:
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return "n/a"
    found = re.search(r"VmRSS:\s+(\d+) kB", status.read_text())
    return f"{int(found.group(1)) / 1024:.0f} MB" if found else "n/a"


def markdown(rows: list[dict], users: int, seconds: int, rss: str) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    lines = [
        BEGIN,
        f"Measured {when} on {platform.node()} ({os.cpu_count()} cores, Python "
        f"{platform.python_version()}): `make loadtest LOADTEST_USERS={users} "
        f"LOADTEST_SECONDS={seconds}` (Locust {_locust_version()}, headless, "
        f"{users} users, {seconds} s, against one local uvicorn worker of the "
        "sentiment champion on the same machine). Server memory after the run: "
        f"{rss}.",
        "",
        "| request | requests | failures | req/s | p50 (ms) | p95 (ms) | p99 (ms) "
        "| max (ms) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['Name']} | {r['Request Count']} | {r['Failure Count']} | "
            f"{float(r['Requests/s']):.1f} | {r['50%']} | {r['95%']} | {r['99%']} | "
            f"{float(r['Max Response Time']):.0f} |"
        )
    lines.append(END)
    return "\n".join(lines)


def _locust_version() -> str:
    from importlib.metadata import version  # noqa: PLC0415

    return version("locust")


def write(section: str) -> None:
    doc = REPO / "docs" / "benchmarks.md"
    text = doc.read_text()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n## Load test (Locust)\n\n" + section + "\n"
    doc.write_text(text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="loadtest/run_local.py")
    p.add_argument("--users", type=int, default=8)
    p.add_argument("--seconds", type=int, default=30)
    p.add_argument("--models", type=Path, default=REPO / "data" / "models")
    p.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = p.parse_args(argv)
    rows, rss = run(args.users, args.seconds, args.models)
    section = markdown(rows, args.users, args.seconds, rss)
    sys.stdout.write(section + "\n")
    failures = sum(int(r["Failure Count"]) for r in rows if r["Name"] == "Aggregated")
    if args.write:
        write(section)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
