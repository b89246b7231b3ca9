"""How hard is a parking data set at the unit the model predicts?

``python -m mlops_platform.datagen.parking_realism DIR_OR_CSV [...]`` reads readings
(either format), builds the one-hour-ahead examples the pipeline builds (5-minute
grid, origin and target both real readings), holds out the last 20% of time and
prints, per car park, persistence, same time yesterday and HistGradientBoosting on
the lags and calendar, as MAE in cars and per 100 spaces. The same protocol as the
real-sample figures in docs/real-data.md (persistence 11.87, HGB 5.15 cars).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops_platform.contracts import enforce_contract
from mlops_platform.use_cases.parking import ParkingUseCase
from mlops_platform.use_cases.parking.features import GoldParams, build_examples


def load_examples(
    path: str | Path, capacity: int | None = None, horizon_minutes: int = 60
) -> pd.DataFrame:
    """Gold examples from a folder of raw files, or one seed-format CSV."""
    path = Path(path)
    files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    partitions: dict[str, Callable[[], bytes]] = {f.stem: f.read_bytes for f in files}
    if capacity is not None and "car_parks" not in partitions:
        caps = "SystemCodeNumber,Capacity\n" + "".join(
            f"{f.stem},{capacity}\n" for f in files
        )
        partitions["car_parks"] = caps.encode
    uc = ParkingUseCase()
    raw, _ = uc.ingest(partitions)
    silver = enforce_contract(raw, uc.contract).valid
    return build_examples(silver, GoldParams(horizon_minutes=horizon_minutes))


def difficulty(gold: pd.DataFrame, test_share: float = 0.2) -> pd.DataFrame:
    from sklearn.ensemble import HistGradientBoostingRegressor  # noqa: PLC0415

    uc = ParkingUseCase()
    rows: list[dict[str, Any]] = []
    for park, unsorted in gold.groupby("car_park", sort=True):
        g = unsorted.sort_values("origin")
        cut = g["origin"].iloc[int(len(g) * (1 - test_share))]
        train, test = g[g["origin"] < cut], g[g["origin"] >= cut]
        if len(train) < 100 or len(test) < 20:
            continue
        cap = float(test["capacity"].iloc[-1])
        y = test["target_count"].to_numpy(dtype=float)
        hgb = HistGradientBoostingRegressor(
            max_iter=300, learning_rate=0.05, random_state=0
        )
        hgb.fit(uc.model_input(train), train["target_count"] / train["capacity"])
        pred = hgb.predict(uc.model_input(test)) * test["capacity"].to_numpy()
        base = uc.baseline_predictions(train, test)
        maes = {
            "persistence": np.abs(base["persistence"] - y).mean(),
            "same_time_yesterday": np.abs(base["same_time_yesterday"] - y).mean(),
            "hgb": np.abs(pred - y).mean(),
        }
        rows.append(
            {
                "car_park": park,
                "capacity": cap,
                "test_pairs": len(test),
                **{f"{k}_mae": round(v, 2) for k, v in maes.items()},
                **{f"{k}_per100": round(100 * v / cap, 2) for k, v in maes.items()},
                "hgb_over_persistence": round(maes["hgb"] / maes["persistence"], 3),
            }
        )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if not args:
        sys.stderr.write(__doc__ or "")
        return 2
    for path in args:
        gold = load_examples(path, capacity=100 if Path(path).is_file() else None)
        sys.stdout.write(f"{path}\n{difficulty(gold).to_string(index=False)}\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
