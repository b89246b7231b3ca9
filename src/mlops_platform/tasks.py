"""What a use case predicts, and everything that follows from it.

A :class:`Task` owns what the generic stages used to assume about one kind of model:
the metrics and their direction, the baselines always scored beside the candidates,
the detailed test report, the report figure, the model outputs that the golden rows
and the ONNX export are compared on, and the tolerance of that comparison. Training,
evaluation, reporting, the hooks and the bundle ask the use case's task; none of them
names a metric or a model kind.

Two tasks exist: :class:`ClassificationTask` (class probabilities out, accuracy and
macro F1, majority baseline, confusion matrix) and :class:`RegressionTask` (one value
out, MAE and RMSE, forecast-vs-actual and residual plots). Regression covers
forecasting: the use case supplies its forecasting baselines (persistence,
same time yesterday) through ``UseCase.baseline_predictions``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlops_platform.plotting import pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class Metric:
    name: str
    higher_is_better: bool
    description: str = ""


@dataclass(frozen=True)
class Parity:
    """How closely a re-implementation (ONNX, a reloaded model) must match.

    ``max_abs_diff`` bounds every output element; ``min_decision_agreement`` bounds
    the share of rows whose decision (the class) is the same (1.0 for regression,
    where the value itself is the decision and ``max_abs_diff`` already bounds it).
    """

    max_abs_diff: float
    min_decision_agreement: float = 1.0


class Task(ABC):
    """The kind of prediction a use case makes."""

    name: str
    metrics: tuple[Metric, ...]
    default_metric: str
    parity: Parity
    #: Name of the ONNX graph's output (what serving reads).
    output_name: str
    #: How the label is tested for drift: "categorical" or "numeric".
    label_kind: str

    # ---- metrics
    def metric(self, name: str) -> Metric:
        for m in self.metrics:
            if m.name == name:
                return m
        raise ValueError(
            f"task {self.name}: unknown metric {name!r}; "
            f"known: {[m.name for m in self.metrics]}"
        )

    def improvement(self, metric: str, new: float, old: float) -> float:
        """How much ``new`` is better than ``old`` (positive = better)."""
        return new - old if self.metric(metric).higher_is_better else old - new

    def best(self, scores: dict[str, dict[str, float]], metric: str) -> str:
        """The key of ``scores`` with the best ``metric`` (ties: the last by name)."""
        sign = 1.0 if self.metric(metric).higher_is_better else -1.0
        return max(scores, key=lambda k: (sign * scores[k][metric], k))

    @abstractmethod
    def scores(self, y_true: Any, y_pred: Any) -> dict[str, float]:
        """Every metric of the task, as plain floats."""

    @abstractmethod
    def resampled_scores(
        self, y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Every metric on each of ``weights``' rows (``[draws, n]``: how often each
        test row counts in that draw); a row of ones gives :meth:`scores`."""

    @abstractmethod
    def report(self, y_true: Any, y_pred: Any) -> dict[str, Any]:
        """The scores and the detail a person reads (per class, residuals)."""

    def scores_by_period(
        self, y_true: pd.Series, y_pred: Any, periods: pd.Series
    ) -> dict[str, dict[str, float]]:
        """Every metric per period (how much a period's score varies on its own)."""
        pred = pd.Series(np.asarray(y_pred), index=y_true.index)
        return {
            str(p): self.scores(y_true[periods == p], pred[periods == p])
            for p in sorted(periods.unique())
        }

    def summary(self, scores: dict[str, Any]) -> str:
        return ", ".join(
            f"{m.name} {scores[m.name]:.4f}" for m in self.metrics if m.name in scores
        )

    # ---- model outputs
    @abstractmethod
    def outputs(self, flavour: Any, model: Any, x: pd.DataFrame) -> np.ndarray:
        """The model's raw outputs ``[n, k]``: what golden rows and ONNX compare."""

    @abstractmethod
    def decide(self, outputs: np.ndarray, classes: list[str] | None) -> np.ndarray:
        """Predictions (class codes or values) from raw outputs."""

    def predict(self, flavour: Any, model: Any, x: pd.DataFrame) -> np.ndarray:
        """Predictions (class codes or values) of ``model`` on gold rows ``x``."""
        return self.decide(self.outputs(flavour, model, x), flavour.classes(model))

    @abstractmethod
    def expected_rows(
        self, outputs: np.ndarray, classes: list[str] | None
    ) -> list[dict[str, Any]]:
        """One golden ``expected`` entry per row (docs/model_bundle.md)."""

    def compare(
        self, expected: np.ndarray, got: np.ndarray
    ) -> tuple[bool, dict[str, Any]]:
        """Do ``got`` outputs reproduce ``expected`` within :attr:`parity`?"""
        if got.shape != expected.shape:
            return False, {"shape": [list(got.shape), list(expected.shape)]}
        diff = np.abs(got - expected)
        max_diff = float(np.nanmax(diff)) if diff.size else 0.0
        if diff.size and not np.isfinite(diff).all():
            max_diff = float("inf")
        agreement = (
            float((got.argmax(axis=1) == expected.argmax(axis=1)).mean())
            if got.shape[1] > 1 and len(got)
            else 1.0
        )
        ok = (
            max_diff <= self.parity.max_abs_diff
            and agreement >= self.parity.min_decision_agreement
        )
        return ok, {
            "rows": len(got),
            "decision_agreement": round(agreement, 6),
            "max_abs_diff": max_diff,
            "required": {
                "decision_agreement": self.parity.min_decision_agreement,
                "max_abs_diff": self.parity.max_abs_diff,
            },
        }

    # ---- baselines and figures
    @abstractmethod
    def default_baselines(
        self, y_train: pd.Series, n_test: int
    ) -> dict[str, tuple[str, np.ndarray]]:
        """Baselines every use case of this task gets: name -> (what, predictions)."""

    @abstractmethod
    def figure(
        self,
        title: str,
        panels: list[tuple[str, Any, np.ndarray, dict[str, Any]]],
        labels: dict[str, str],
        series: pd.DataFrame | None = None,
    ) -> Figure:
        """One figure of the test results: panels of (title, y_true, y_pred, report).
        ``series``: the test rows' series and time (columns ``series``, ``time``),
        for a task that draws them over time."""

    def schema(self) -> dict[str, Any]:
        """What the bundle's input schema says about the task."""
        return {
            "task": self.name,
            "output": self.output_name,
            "metrics": {
                m.name: {"higher_is_better": m.higher_is_better} for m in self.metrics
            },
        }


class ClassificationTask(Task):
    name = "classification"
    metrics = (
        Metric("accuracy", True, "share of correct classes"),
        Metric("macro_f1", True, "F1 averaged over classes, unweighted"),
    )
    default_metric = "macro_f1"
    # Float32 graphs differ from scikit-learn by ~2e-7 (issue 3's targets).
    parity = Parity(max_abs_diff=1e-4, min_decision_agreement=0.999)
    output_name = "probabilities"
    label_kind = "categorical"

    def __init__(self, classes: tuple[str, ...], labels: dict[str, str]) -> None:
        self.classes = tuple(classes)
        self.labels = dict(labels)

    def scores(self, y_true: Any, y_pred: Any) -> dict[str, float]:
        from sklearn.metrics import accuracy_score, f1_score  # noqa: PLC0415

        return {
            "accuracy": float(accuracy_score(y_true, y_pred)),
            "macro_f1": float(
                f1_score(y_true, y_pred, average="macro", zero_division=0)
            ),
        }

    def resampled_scores(
        self, y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray
    ) -> dict[str, np.ndarray]:
        # Macro F1 over the labels seen in y_true or y_pred, as scikit-learn's.
        y, p = np.asarray(y_true).astype(str), np.asarray(y_pred).astype(str)
        total = weights.sum(axis=1)
        correct = weights @ (y == p).astype(np.float64)
        f1 = []
        for c in np.union1d(y, p):
            tp = weights @ ((y == c) & (p == c)).astype(np.float64)
            wrong = weights @ ((y == c) ^ (p == c)).astype(np.float64)  # fp + fn
            denominator = 2 * tp + wrong
            f1.append(
                np.divide(
                    2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0
                )
            )
        return {
            "accuracy": correct / np.maximum(total, 1e-12),
            "macro_f1": np.mean(f1, axis=0) if f1 else np.zeros(len(weights)),
        }

    def report(self, y_true: Any, y_pred: Any) -> dict[str, Any]:
        from sklearn.metrics import (  # noqa: PLC0415
            confusion_matrix,
            precision_recall_fscore_support,
        )

        classes = list(self.classes)
        precision, recall, f1, support = precision_recall_fscore_support(
            y_true, y_pred, labels=classes, zero_division=0
        )
        return {
            **{k: round(v, 6) for k, v in self.scores(y_true, y_pred).items()},
            "per_class": {
                c: {
                    "precision": round(float(p), 6),
                    "recall": round(float(r), 6),
                    "f1": round(float(f), 6),
                    "support": int(s),
                }
                for c, p, r, f, s in zip(
                    classes, precision, recall, f1, support, strict=True
                )
            },
            "confusion_matrix": {
                "labels": classes,
                "matrix": confusion_matrix(y_true, y_pred, labels=classes).tolist(),
            },
        }

    def outputs(self, flavour: Any, model: Any, x: pd.DataFrame) -> np.ndarray:
        return np.asarray(flavour.predict_proba(model, x), dtype=np.float64)

    def decide(self, outputs: np.ndarray, classes: list[str] | None) -> np.ndarray:
        names = np.asarray(
            classes if classes is not None else self.classes, dtype=object
        )
        return names[outputs.argmax(axis=1)]

    def expected_rows(
        self, outputs: np.ndarray, classes: list[str] | None
    ) -> list[dict[str, Any]]:
        names = [str(c) for c in (classes or self.classes)]
        return [
            {
                "class": names[int(np.argmax(p))],
                "probabilities": {c: float(v) for c, v in zip(names, p, strict=True)},
            }
            for p in outputs
        ]

    def default_baselines(
        self, y_train: pd.Series, n_test: int
    ) -> dict[str, tuple[str, np.ndarray]]:
        majority = y_train.mode().iloc[0]
        return {
            "majority_class": (
                f"always {majority}",
                np.full(n_test, majority, dtype=object),
            )
        }

    def figure(
        self,
        title: str,
        panels: list[tuple[str, Any, np.ndarray, dict[str, Any]]],
        labels: dict[str, str],
        series: pd.DataFrame | None = None,
    ) -> Figure:
        """Per model, the confusion matrix twice: counts, and each true class's row
        as shares (its recall on the diagonal). Classes are named by their codes
        on the axes and spelled out beneath."""
        n = max(1, len(panels))
        fig, axes = pyplot().subplots(n, 2, figsize=(10, 4.3 * n + 0.5), squeeze=False)
        if not panels:
            for ax in axes.ravel():
                ax.axis("off")
            axes[0, 0].text(0.5, 0.5, "no model to evaluate", ha="center")
        codes = [str(c) for c in self.classes]
        for row, (name, _y, _pred, result) in zip(axes, panels, strict=False):
            cm = np.array(result["confusion_matrix"]["matrix"], dtype=float)
            shares = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
            for ax, values, what in (
                (row[0], cm, "counts"),
                (row[1], shares, "share of each true class (recall on diagonal)"),
            ):
                ax.imshow(values, cmap="Blues", vmin=0)
                top = values.max() if values.size else 1
                for i in range(values.shape[0]):
                    for j in range(values.shape[1]):
                        v = values[i, j]
                        ax.text(
                            j,
                            i,
                            f"{v:.0f}" if values is cm else f"{v:.2f}",
                            ha="center",
                            va="center",
                            fontsize=9,
                            color="white" if v > 0.6 * top else "black",
                        )
                ax.set_xticks(range(len(codes)), codes, fontsize=8)
                ax.set_yticks(range(len(codes)), codes, fontsize=8)
                ax.set_xlabel("predicted class", fontsize=8)
                ax.set_ylabel("true class", fontsize=8)
                ax.set_title(f"{name}: {what}\n{self.summary(result)}", fontsize=8.5)
        legend = "; ".join(f"{c} = {labels[c]}" for c in codes if labels.get(c))
        fig.suptitle(title)
        fig.tight_layout(rect=(0, 0.04 if legend else 0, 1, 1))
        if legend:
            fig.text(0.5, 0.01, legend, ha="center", fontsize=8)
        return fig

    def schema(self) -> dict[str, Any]:
        return {
            **super().schema(),
            "classes": list(self.classes),
            "class_labels": dict(self.labels),
        }


class RegressionTask(Task):
    """One number per row (a forecast is a regression on past values)."""

    name = "regression"
    metrics = (
        Metric("mae", False, "mean absolute error, in the target's unit"),
        Metric("rmse", False, "root mean squared error, in the target's unit"),
    )
    default_metric = "mae"
    output_name = "prediction"
    label_kind = "numeric"

    def __init__(self, unit: str = "", tolerance: float = 1e-3) -> None:
        self.unit = unit
        # Float32 networks and float64 trees: ~1e-4 in the target's unit is typical.
        self.parity = Parity(max_abs_diff=tolerance)

    def scores(self, y_true: Any, y_pred: Any) -> dict[str, float]:
        err = np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)
        if not len(err):
            return {"mae": float("nan"), "rmse": float("nan")}
        return {
            "mae": float(np.mean(np.abs(err))),
            "rmse": float(np.sqrt(np.mean(err**2))),
        }

    def resampled_scores(
        self, y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray
    ) -> dict[str, np.ndarray]:
        err = np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)
        total = np.maximum(weights.sum(axis=1), 1e-12)
        return {
            "mae": (weights @ np.abs(err)) / total,
            "rmse": np.sqrt((weights @ err**2) / total),
        }

    def report(self, y_true: Any, y_pred: Any) -> dict[str, Any]:
        y = np.asarray(y_true, dtype=float)
        err = np.asarray(y_pred, dtype=float) - y
        q = np.quantile(np.abs(err), [0.5, 0.9, 0.99]) if len(err) else [np.nan] * 3
        return {
            **{k: round(v, 6) for k, v in self.scores(y_true, y_pred).items()},
            "bias": round(float(err.mean()), 6) if len(err) else None,
            "abs_error_quantiles": {
                "p50": round(float(q[0]), 6),
                "p90": round(float(q[1]), 6),
                "p99": round(float(q[2]), 6),
            },
            "rows": len(err),
            "unit": self.unit,
        }

    def outputs(self, flavour: Any, model: Any, x: pd.DataFrame) -> np.ndarray:
        return np.asarray(flavour.predict(model, x), dtype=np.float64).reshape(-1, 1)

    def decide(self, outputs: np.ndarray, classes: list[str] | None) -> np.ndarray:
        return outputs[:, 0]

    def expected_rows(
        self, outputs: np.ndarray, classes: list[str] | None
    ) -> list[dict[str, Any]]:
        return [{"prediction": float(v)} for v in outputs[:, 0]]

    def default_baselines(
        self, y_train: pd.Series, n_test: int
    ) -> dict[str, tuple[str, np.ndarray]]:
        mean = float(y_train.mean())
        return {"train_mean": (f"always {mean:.4g}", np.full(n_test, mean))}

    def figure(
        self,
        title: str,
        panels: list[tuple[str, Any, np.ndarray, dict[str, Any]]],
        labels: dict[str, str],
        series: pd.DataFrame | None = None,
    ) -> Figure:
        """Per model: forecast against actual, the residuals, and, when the rows are
        time series, forecast and actual over time for up to three series."""
        n = max(1, len(panels))
        rows = 3 if series is not None else 2
        fig, axes = pyplot().subplots(
            rows, n, figsize=(6 * n, 3.9 * rows), squeeze=False
        )
        if not panels:
            for ax in axes.ravel():
                ax.axis("off")
            axes[0, 0].text(0.5, 0.5, "no model to evaluate", ha="center")
        unit = f" ({self.unit})" if self.unit else ""
        for j, (name, y_raw, pred_raw, result) in enumerate(panels):
            y = np.asarray(y_raw, dtype=float)
            pred = np.asarray(pred_raw, dtype=float)
            ax = axes[0, j]
            ax.scatter(y, pred, s=4, alpha=0.4)
            lo = float(np.nanmin(np.r_[y, pred])) if len(y) else 0.0
            hi = float(np.nanmax(np.r_[y, pred])) if len(y) else 1.0
            ax.plot(
                [lo, hi], [lo, hi], color="black", lw=0.8, label="forecast = actual"
            )
            ax.set_xlabel(f"actual{unit}")
            ax.set_ylabel(f"forecast{unit}")
            ax.legend(fontsize=7)
            ax.set_title(f"{name}\n{self.summary(result)}", fontsize=9)
            residual = pred - y
            spread = float(np.ptp(residual)) if len(residual) else 0.0
            # equal residuals (a constant offset) leave no range for 40 bins
            tiny = spread <= 1e-9 * max(1.0, float(np.abs(residual).max(initial=0)))
            axes[1, j].hist(residual, bins=1 if tiny else 40)
            axes[1, j].axvline(0, color="black", lw=0.8)
            axes[1, j].set_xlabel(f"residual: forecast - actual{unit}")
            axes[1, j].set_ylabel("test rows")
            axes[1, j].set_title(
                f"residuals: bias {result.get('bias', 0):.3f}{unit}", fontsize=9
            )
            if series is not None:
                self._over_time(axes[2, j], series, y, pred, unit)
        fig.suptitle(title)
        fig.tight_layout()
        return fig

    @staticmethod
    def _over_time(
        ax: Any, series: pd.DataFrame, y: np.ndarray, pred: np.ndarray, unit: str
    ) -> None:
        frame = series.assign(actual=y, forecast=pred).sort_values("time")
        names = sorted(frame["series"].unique())
        for k, name in enumerate(names[:3]):
            one = frame[frame["series"] == name]
            color = f"C{k}"
            ax.plot(
                one["time"], one["actual"], color=color, lw=1.2, label=f"{name} actual"
            )
            ax.plot(
                one["time"], one["forecast"], color=color, lw=1.0, ls="--",
                label=f"{name} forecast",
            )  # fmt: skip
        more = f" (3 of {len(names)} series)" if len(names) > 3 else ""
        ax.set_title(f"forecast and actual over time{more}", fontsize=9)
        ax.set_xlabel("time")
        ax.set_ylabel(f"value{unit}")
        ax.legend(fontsize=6, ncol=2)
        ax.tick_params(axis="x", labelsize=7, rotation=30)

    def schema(self) -> dict[str, Any]:
        return {**super().schema(), "unit": self.unit}
