"""Parking candidates: a Keras LSTM and HistGradientBoosting, both on occupancy rates.

Both learn the occupancy rate and answer in cars (rate x capacity), so one model
serves car parks of any size: the LSTM multiplies inside the network, the boosted
trees through :class:`~mlops_platform.estimators.ScaledTargetRegressor`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline

from mlops_platform.estimators import ScaledTargetRegressor
from mlops_platform.flavours import (
    Candidate,
    InputLayout,
    KerasSpec,
    import_keras,
    scaling_layer,
)
from mlops_platform.params import TrainingParams
from mlops_platform.use_cases.parking.features import CONTEXT, WINDOW

LAYOUT = InputLayout(
    windows={"occupancy": WINDOW},
    vectors={"context": CONTEXT, "capacity": ("capacity",)},
)
KERAS_TRAINING = ("epochs", "batch_size", "patience", "learning_rate", "loss")


def build_lstm(train: dict[str, np.ndarray], p: dict[str, Any]) -> Any:
    """LSTM over the window + the context -> change of rate; x capacity -> cars."""
    keras = import_keras()
    steps = train["occupancy"].shape[1]
    window = keras.Input((steps, 1), name="occupancy")
    context = keras.Input((len(CONTEXT),), name="context")
    capacity = keras.Input((1,), name="capacity")
    ctx = scaling_layer(
        train["context"].mean(axis=0), train["context"].std(axis=0), "context_scale"
    )(context)
    h = keras.layers.LSTM(int(p.get("units", 32)), name="lstm")(window)
    h = keras.layers.Concatenate()([h, ctx])
    h = keras.layers.Dense(int(p.get("dense", 32)), activation="relu")(h)
    delta = keras.layers.Dense(1, name="rate_change")(h)
    last = keras.layers.Flatten()(keras.layers.Cropping1D((steps - 1, 0))(window))
    rate = keras.layers.Add(name="rate")([last, delta])
    cars = keras.layers.Multiply(name="cars")([rate, capacity])
    return keras.Model([window, context, capacity], cars, name="parking_lstm")


def build_candidates(
    numeric: tuple[str, ...], params: TrainingParams
) -> dict[str, Candidate]:
    seed = params.random_state
    out: dict[str, Candidate] = {}
    for name, spec in params.candidates.items():
        if not spec.enabled:
            continue
        p = dict(spec.params)
        if name == "hist_gradient_boosting":
            model = Pipeline(
                [
                    (
                        "preprocess",
                        ColumnTransformer(
                            [("numeric", "passthrough", list(numeric))],
                            verbose_feature_names_out=False,
                        ),
                    ),
                    ("model", HistGradientBoostingRegressor(random_state=seed, **p)),
                ]
            )
            out[name] = Candidate(
                "sklearn", ScaledTargetRegressor(model, "capacity"), p
            )
        elif name == "lstm":
            training = {k: p.pop(k) for k in KERAS_TRAINING if k in p}
            out[name] = Candidate(
                "keras",
                KerasSpec(
                    layout=LAYOUT, build=build_lstm, params=p, seed=seed, **training
                ),
                {**p, **training},
            )
        else:
            raise ValueError(
                f"parameters_training.yml: unknown parking candidate {name!r}; "
                "known: hist_gradient_boosting, lstm"
            )
    return out
