"""Retail: a basket as the till sees it in, its price sensitivity out.

``POST /v1/retail/predict`` takes the model's 33 features (batch scoring of gold rows).
A till or an e-commerce back end knows the basket's lines and the customer's card, not
the customer's history or the basket's spend shares per division; it calls
``POST /v1/retail/baskets``. This module turns such a basket into the model's feature
record with the definitions training uses (:mod:`mlops_serving.retail_features`),
looking up the customer, the products and the store in the online store the last
pipeline run published (:mod:`mlops_serving.online`):

- a card the store does not know is a new customer: no history, no profile, as a
  customer's first week is in training; no card is an anonymous basket, the same;
- a line may carry its product's department and division (``PROD_CODE_20``,
  ``PROD_CODE_40``) from the till's own product master: they are used as training
  uses the line's own codes, so a product first sold after the last run gets the
  features it gets in training. Without them the online store's are looked up; a
  product the store does not know then counts as one line of an unknown department
  in division "other" and is named in the answer's ``unknown_products``;
- the basket may carry its store's format and region (``STORE_FORMAT``,
  ``STORE_REGION``) from the till's own store master, used as training uses the
  line's own; without them, a store the online store does not know has no format
  or region (missing categories) and sets ``unknown_store``;
- a basket at or before the newest hour of the data the store was built from is
  refused: its features in training came from an earlier state, so the answer would
  not be the model's answer for that basket.

``tests/use_cases/test_retail_online_parity.py`` in the main project computes the
features of real baskets both ways (gold tables and this module) and requires them
equal, and the two endpoints' answers equal.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlops_serving import retail_features as rf
from mlops_serving.online import OnlineStore
from mlops_serving.schema import FeatureSchema
from mlops_serving.usecases.base import RequestError, Route, UseCase

CODE = r"^[A-Za-z0-9_.:-]+$"
# The API docs' example; serving/examples/retail_basket.json, which the README posts,
# is the same basket (a test holds them equal).
EXAMPLE: dict[str, Any] = {
    "basket_id": "994100100532898",
    "customer_card": "CUST0000634693",
    "store": "STORE00001",
    "time": "2026-12-05T17:42:10",
    "basket_size": "M",
    "basket_type": "Top Up",
    "basket_dominant_mission": "Fresh",
    "lines": [
        {"product": "PRD0900121", "quantity": 1, "spend": 1.04},
        {"product": "PRD0900167", "quantity": 2, "spend": 2.38},
        {"product": "PRD0900541", "quantity": 1, "spend": 0.85},
    ],
}
LOCAL_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$"


def _master_code(description: str) -> Any:
    """An optional code from the till's own master data (a product's department,
    a store's format): given in pairs (:func:`_both_or_neither`)."""
    return Field(
        None, min_length=1, max_length=32, pattern=CODE, description=description
    )


class TillLine(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    product: str = Field(
        min_length=1,
        max_length=32,
        pattern=CODE,
        description="product code (PROD_CODE)",
    )
    quantity: int = Field(ge=1, le=1000, description="items on the line")
    spend: float = Field(gt=0, le=10_000, description="line total in GBP")
    department: str | None = _master_code(
        "the product's department (PROD_CODE_20), from the till's own product "
        "master; with division, used instead of the online store's, so a product "
        "first sold after the last run is featurised as in training"
    )
    division: str | None = _master_code(
        "the product's division (PROD_CODE_40); given with department"
    )

    @model_validator(mode="after")
    def _hierarchy_whole(self) -> TillLine:
        _both_or_neither(self, "department", "division", "the product's codes")
        return self


def _both_or_neither(model: BaseModel, a: str, b: str, what: str) -> None:
    """A pair of codes the till may send (from its own master data) comes whole."""
    if (getattr(model, a) is None) != (getattr(model, b) is None):
        given, missing = (a, b) if getattr(model, b) is None else (b, a)
        raise ValueError(
            f"{given} is given without {missing}: send both of {what}, or neither "
            "(the online store's are used)"
        )


class TillBasket(BaseModel):
    """One basket at the till: who (a loyalty card or null), where, when, and its
    lines; with the retailer's own basket classification where the till has it
    (null: the model scores it as missing)."""

    model_config = ConfigDict(extra="forbid")
    basket_id: str | None = Field(max_length=64, description="echoed back")
    customer_card: str | None = Field(
        max_length=32,
        pattern=CODE,
        description="loyalty card number (CUST_CODE); null for a shopper without one",
    )
    store: str = Field(
        min_length=1, max_length=32, pattern=CODE, description="store code"
    )
    time: str = Field(
        pattern=LOCAL_TIME,
        description="the store's local time of the basket, YYYY-MM-DDTHH:MM[:SS], "
        "no time zone (features use its date and hour)",
    )
    basket_size: str | None = Field(max_length=32, description="S, M or L")
    basket_type: str | None = Field(
        max_length=32, description="Small Shop, Top Up or Full Shop"
    )
    basket_dominant_mission: str | None = Field(
        max_length=32, description="Fresh, Grocery, Mixed or Nonfood"
    )
    lines: list[TillLine] = Field(min_length=1, max_length=1000)
    store_format: str | None = _master_code(
        "the store's format (STORE_FORMAT: LS, MS, SS or XLS), from the till's own "
        "store master; with store_region, used instead of the online store's, so a "
        "store opened after the last run is featurised as in training"
    )
    store_region: str | None = _master_code(
        "the store's region (STORE_REGION); given with store_format"
    )

    @model_validator(mode="after")
    def _store_whole(self) -> TillBasket:
        _both_or_neither(self, "store_format", "store_region", "the store's codes")
        return self


def _state_of(row: dict[str, Any] | None) -> dict[str, np.ndarray]:
    keys = (*rf.STATE_SUMS, "last_hour")
    if row is None:
        return {k: np.array([np.nan]) for k in keys}
    return {k: np.array([np.nan if row[k] is None else float(row[k])]) for k in keys}


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else value


class Retail(UseCase):
    online_entities = ("customers", "products", "stores")
    online_definitions = rf.DEFINITIONS_VERSION

    def routes(self) -> list[Route]:
        return [
            *super().routes(),
            Route(
                "baskets",
                "retail: predict from a basket as the till sees it",
                "The customer's history and profile, the products' departments and "
                "the store's format come from the online feature store the last "
                "pipeline run published (`/v1/models` shows its version); "
                "`unknown_products` and `unknown_store` say what it did not know.",
                lambda _schema: TillBasket,
                self.basket_record,
                self.basket_example,
                needs_online=True,
            ),
        ]

    def basket_record(
        self, validated: BaseModel, schema: FeatureSchema, online: OnlineStore | None
    ) -> dict[str, Any]:
        basket = cast(TillBasket, validated)  # what the route's request model makes
        if online is None:  # the app answers 503 before this
            raise RequestError("body", "no online feature store loaded")
        try:
            t = datetime.fromisoformat(basket.time)
        except ValueError as exc:
            raise RequestError("time", f"{basket.time!r}: {exc}") from None
        date = np.array([t.year * 10000 + t.month * 100 + t.day])
        hour = rf.basket_hour(date, np.array([t.hour]))
        as_of = online.meta.get("as_of_hour")
        if as_of is not None and hour[0] <= as_of:
            raise RequestError(
                "time",
                f"{t.isoformat()} is not after the newest hour of the data the online "
                f"store was built from ({_hour_text(as_of)}): such a basket is "
                "featurised by the batch pipeline",
            )
        codes = [line.product for line in basket.lines]
        looked_up = [line.product for line in basket.lines if line.department is None]
        products = online.get_many("products", looked_up) if looked_up else {}
        hierarchy = [
            (line.department, line.division)  # the till's own product master
            if line.department is not None and line.division is not None
            else (
                products[line.product]["department"],
                products[line.product]["division"],
            )
            if line.product in products
            else ("?", "other")
            for line in basket.lines
        ]
        unknown_products = sorted({c for c in looked_up if c not in products})
        department = np.array([h[0] for h in hierarchy], dtype=object)
        division = np.array([h[1] for h in hierarchy], dtype=object)
        lines = rf.basket_features(
            np.zeros(len(codes), dtype=np.int64),
            np.array([line.spend for line in basket.lines]),
            np.array([line.quantity for line in basket.lines], dtype=np.float64),
            department,
            division,
            1,
        )
        customer = (
            online.get("customers", basket.customer_card)
            if basket.customer_card is not None
            else None
        )
        history = rf.history_features(_state_of(customer), hour)
        store = (
            {"format": basket.store_format, "region": basket.store_region}
            if basket.store_format is not None  # the till's own store master
            else online.get("stores", basket.store)
        )
        record: dict[str, Any] = {
            **{k: float(v[0]) for k, v in lines.items()},
            **{k: _none_if_nan(float(v[0])) for k, v in history.items()},
            "shop_hour": float(t.hour),
            "shop_weekday": float(rf.lgsr_weekday(date)[0]),
            "basket_size": basket.basket_size,
            "basket_type": basket.basket_type,
            "basket_dominant_mission": basket.basket_dominant_mission,
            "store_format": store["format"] if store else None,
            "store_region": store["region"] if store else None,
            **{c: (customer[c] if customer else None) for c in rf.PROFILE_COLUMNS},
            "_till": {
                "basket_id": basket.basket_id,
                "customer_known": customer is not None,
                "unknown_products": unknown_products,
                "unknown_store": store is None,
            },
        }
        missing = [f["name"] for f in schema.fields if f["name"] not in record]
        if missing:
            raise RequestError("body", f"the loaded model wants inputs {missing}")
        return record

    def render(
        self,
        outputs: np.ndarray,
        schema: FeatureSchema,
        records: Sequence[dict[str, Any]] = (),
    ) -> list[dict[str, Any]]:
        out = super().render(outputs, schema, records)
        for pred, rec in zip(out, records, strict=True):
            till = rec.get("_till")
            if till is not None:
                pred.update(till)
        return out

    def basket_example(
        self, schema: FeatureSchema, golden_rows: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return json.loads(json.dumps(EXAMPLE))  # a copy


def _hour_text(hour: float) -> str:
    when = np.datetime64(int(hour), "h")
    return str(when).replace("T", " ") + ":00"


USE_CASE = Retail("retail")
