"""BentoML peer of the serving benchmark: the champion's ``model.joblib`` as a
BentoML 1.4 service with one worker.

    BUNDLE_DIR=... bentoml serve bentoml_service:Retail --port PORT

``POST /predict`` with ``{"records": [record, ...]}``; the answer is the
``predict_proba`` rows in the model's class order.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import bentoml
import joblib
import pandas as pd

BUNDLE = Path(os.environ["BUNDLE_DIR"])


@bentoml.service(workers=1)
class Retail:
    def __init__(self) -> None:
        self.model = joblib.load(BUNDLE / "model.joblib")
        self.features = json.loads((BUNDLE / "manifest.json").read_text())["features"]

    @bentoml.api
    def predict(self, records: list[dict[str, Any]]) -> list[list[float]]:
        frame = pd.DataFrame.from_records(records, columns=self.features)
        return self.model.predict_proba(frame).tolist()
