"""LitServe peer of the serving benchmark: a promoted bundle, served as a LitServe
user would (one inference worker, one API server, no batching).

    python litserve_server.py PORT BUNDLE_DIR sklearn|onnx

``sklearn``: ``model.joblib`` (``predict_proba``, or ``predict`` for a regressor) on a
pandas frame. ``onnx``: the bundle's ``model.onnx`` in onnxruntime (one intra-op
thread, as the service), fed as the manifest says: ``runtimes.onnx.stacked`` groups
as ``[n, k]`` tensors, any other input (a text) as ``[n, 1]``. The body is one gold
feature record or ``{"records": [...]}``; the answer is ``{"outputs": [[...], ...]}``
(class probabilities in the model's class order, or the predicted value).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import litserve as ls
import numpy as np


class Bundle(ls.LitAPI):
    def __init__(self, bundle: Path, runtime: str) -> None:
        super().__init__()
        self.bundle, self.runtime = bundle, runtime

    def setup(self, device: str) -> None:
        manifest = json.loads((self.bundle / "manifest.json").read_text())
        self.features = manifest["features"]
        if self.runtime == "sklearn":
            import joblib  # noqa: PLC0415 (the runtime picks)
            import pandas as pd  # noqa: PLC0415

            self.pd = pd
            self.model = joblib.load(self.bundle / "model.joblib")
            return
        import onnxruntime as ort  # noqa: PLC0415

        info = manifest["runtimes"]["onnx"]
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(self.bundle / "model.onnx"), opts, providers=["CPUExecutionProvider"]
        )
        groups = {g["name"]: g for g in info.get("stacked", [])}
        self.feeds = []
        for inp in self.session.get_inputs():
            group = groups.get(inp.name, {"kind": "single", "columns": [inp.name]})
            self.feeds.append((inp.name, group["kind"], group["columns"], inp.type))
        self.missing = info.get("missing_category", "missing")
        self.output = info["output"]

    # Unannotated on purpose: LitServe builds its endpoint from this annotation, and
    # anything but a pydantic model or none makes FastAPI refuse the body (422).
    def decode_request(self, request):
        return request["records"] if "records" in request else [request]

    def predict(self, records: list[dict[str, Any]]) -> np.ndarray:
        if self.runtime == "sklearn":
            frame = self.pd.DataFrame.from_records(records, columns=self.features)
            if hasattr(self.model, "predict_proba"):
                return self.model.predict_proba(frame)
            return np.asarray(self.model.predict(frame)).reshape(-1, 1)
        feed = {}
        for name, _kind, cols, dtype in self.feeds:
            if dtype == "tensor(string)":
                feed[name] = np.array(
                    [
                        [self.missing if r[c] is None else r[c] for c in cols]
                        for r in records
                    ],
                    dtype=object,
                )
            else:
                number = np.float64 if dtype == "tensor(double)" else np.float32
                feed[name] = np.array(
                    [[r[c] for c in cols] for r in records], dtype=number
                )
        return self.session.run([self.output], feed)[0]

    def encode_response(self, output: np.ndarray) -> dict[str, Any]:
        return {
            "outputs": np.asarray(output, dtype=float).reshape(len(output), -1).tolist()
        }


if __name__ == "__main__":
    port, bundle, runtime = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    server = ls.LitServer(
        Bundle(bundle, runtime), accelerator="cpu", workers_per_device=1
    )
    server.run(
        host="127.0.0.1", port=port, num_api_servers=1, generate_client_file=False
    )
