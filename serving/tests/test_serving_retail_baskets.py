"""``POST /v1/retail/baskets``: a till's basket, featurised online as in training.

The parity tests compute each basket's features both ways: the batch pipeline's gold
table (``RetailUseCase.build_gold`` over every week) and the service's till path
(``mlops_serving.usecases.retail``, over the online store a run on the earlier weeks
published), on real LGSR baskets and on generated ones, and require the same values;
then the two endpoints must give the same answers for the same baskets.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import (
    ADMIN_TOKEN,
    Trained,
    make_client,
    publish_bundle,
    publish_online,
)
from mlops_serving import retail_features as rf
from mlops_serving.online import OnlineStore
from mlops_serving.schema import build_schema
from mlops_serving.usecases.retail import USE_CASE, TillBasket

from mlops_platform.contracts import enforce_contract
from mlops_platform.datasets import OnlineFeaturesDataset
from mlops_platform.online_store import OnlineStoreWriter
from mlops_platform.pipelines.evaluation.nodes import input_schema
from mlops_platform.use_cases.retail import RetailUseCase
from mlops_platform.use_cases.retail.features import online_tables, till_requests
from mlops_platform.use_cases.retail.ingest import BASKET_KEY
from tests.conftest import REAL_SAMPLE

REPO = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
BASKETS = "/v1/retail/baskets"
PREDICT = "/v1/retail/predict"


def online_store(root, use_case: str = "retail") -> OnlineStore:
    """The store as the service loads it, from what the dataset published."""
    writer = OnlineStoreWriter(str(root), use_case)
    pointer = writer.read_pointer()
    assert pointer is not None
    return OnlineStore.from_bytes(
        writer.read(pointer["path"]),
        use_case=use_case,
        version=pointer["version"],
        entities=USE_CASE.online_entities,
        definitions=USE_CASE.online_definitions,
        loaded_at="now",
    )


def assert_same_features(gold: pd.DataFrame, records: dict[str, dict], features) -> int:
    """Every feature of every basket equal (floats to 1e-12; the same functions
    run on differently shaped arrays), missing where gold is missing; except baskets
    with a product or store the online store has not seen yet (first sold after the
    run that published it), which must say so. Returns how many those are."""
    assert len(records) == len(gold) > 0
    unseen = 0
    for row in gold.to_dict("records"):
        got = records[row["basket_key"]]
        till = got["_till"]
        if till["unknown_products"] or till["unknown_store"]:
            unseen += 1
            continue
        for f in features:
            want, have = row[f], got[f]
            if want is None or (isinstance(want, float) and math.isnan(want)):
                assert have is None or (isinstance(have, float) and math.isnan(have)), (
                    row["basket_key"],
                    f,
                    have,
                )
            elif isinstance(want, str):
                assert have == want, (row["basket_key"], f, have, want)
            else:
                assert have == pytest.approx(want, rel=1e-12, abs=1e-12), (
                    row["basket_key"],
                    f,
                    have,
                    want,
                )
    return unseen


def featurise(requests: dict[str, dict], store: OnlineStore, schema) -> dict:
    return {
        key: USE_CASE.basket_record(TillBasket.model_validate(req), schema, store)
        for key, req in requests.items()
    }


@pytest.mark.skipif(not REAL_SAMPLE.exists(), reason="needs ../shared/real-samples")
def test_real_baskets_get_the_features_of_the_gold_table(tmp_path):
    """The real LGSR week, its first four days as one period and the last three as
    the next: the online store is what a run over the first period publishes, and
    each basket of the second goes through the till path."""
    retail = RetailUseCase()
    raw, _ = retail.ingest({"week": REAL_SAMPLE.read_bytes})
    silver = enforce_contract(raw, retail.contract).valid
    later = silver["SHOP_DATE"] >= 20060414  # Fri-Sun, LGSR's week runs Mon-Sun
    silver.loc[later, "SHOP_WEEK"] = silver.loc[later, "SHOP_WEEK"] + 1
    gold = retail.build_gold(silver)
    week = gold["shop_week"].max()
    online = online_tables(
        silver[~later], gold[gold["shop_week"] < week].reset_index(drop=True)
    )
    OnlineFeaturesDataset(path=str(tmp_path), use_case="retail").save(online)
    schema = build_schema(input_schema(retail, gold), "retail")
    new = gold[gold["shop_week"] == week]
    records = featurise(till_requests(silver[later]), online_store(tmp_path), schema)
    unseen = assert_same_features(new, records, retail.features)
    # a product first sold on Friday is unknown to Thursday's store: a few baskets
    seen = set(silver.loc[~later, "PROD_CODE"])
    first_sold = (
        silver[later].groupby(BASKET_KEY)["PROD_CODE"].agg(lambda p: not set(p) <= seen)
    )
    assert unseen >= first_sold.sum() > 0
    assert unseen < 0.5 * len(new)
    # a till that sends each line's department and division (its own product
    # master): the baskets with a product first sold on Friday get the gold
    # table's features too; only a store first seen on Friday is still unknown
    with_codes = featurise(
        till_requests(silver[later], with_hierarchy=True),
        online_store(tmp_path),
        schema,
    )
    assert not any(r["_till"]["unknown_products"] for r in with_codes.values())
    new_store = sum(r["_till"]["unknown_store"] for r in with_codes.values())
    assert assert_same_features(new, with_codes, retail.features) == new_store
    assert 0 < new_store < first_sold.sum()
    # ... and its store's format and region (its own store master): every basket
    whole = featurise(
        till_requests(silver[later], with_hierarchy=True, with_store=True),
        online_store(tmp_path),
        schema,
    )
    assert not any(r["_till"]["unknown_store"] for r in whole.values())
    assert assert_same_features(new, whole, retail.features) == 0
    # the cases that matter are all there: known customers with history, cards the
    # store has not seen, shoppers without a card
    known = new["cust_prev_baskets"] > 0
    assert known.sum() > 300
    assert (~known & new["cust_code"].notna()).sum() > 100
    assert new["cust_code"].isna().sum() > 50


def test_generated_baskets_get_the_same_features_and_answers(
    trained: Trained, tmp_path
):
    root = tmp_path / "models"
    publish_bundle(trained, root)
    publish_online(trained, root)
    week = trained.test["shop_week"].max()
    new = trained.gold[trained.gold["shop_week"] == week]
    requests = till_requests(trained.silver[trained.silver["SHOP_WEEK"] == week])
    schema = build_schema(input_schema(trained.retail, trained.train), "retail")
    records = featurise(requests, online_store(root), schema)
    # a small world (2,137 products in four weeks): a quarter of the next week's
    # baskets hold a product first sold that week
    unseen = assert_same_features(new, records, trained.retail.features)
    assert 0 < unseen < 0.5 * len(new)
    # with the lines' department and division from the till, all of them match
    coded = till_requests(
        trained.silver[trained.silver["SHOP_WEEK"] == week], with_hierarchy=True
    )
    with_codes = featurise(coded, online_store(root), schema)
    new_store = sum(r["_till"]["unknown_store"] for r in with_codes.values())
    assert assert_same_features(new, with_codes, trained.retail.features) == new_store
    assert new_store < unseen
    whole = featurise(
        till_requests(
            trained.silver[trained.silver["SHOP_WEEK"] == week],
            with_hierarchy=True,
            with_store=True,
        ),
        online_store(root),
        schema,
    )
    assert assert_same_features(new, whole, trained.retail.features) == 0
    assert (new["cust_code"].isna()).any()
    assert ((new["cust_prev_baskets"] == 0) & new["cust_code"].notna()).any()

    with make_client(root) as c:
        keys = [  # baskets whose products and store the online store knows
            k
            for k in new["basket_key"]
            if not records[k]["_till"]["unknown_products"]
            and not records[k]["_till"]["unknown_store"]
        ][:120]
        assert len(keys) == 120
        till = c.post(BASKETS, json={"records": [requests[k] for k in keys]})
        assert till.status_code == 200, till.text
        rows = new.set_index("basket_key").loc[keys].reset_index()
        x = rows[trained.retail.features].astype(object)
        gold_records = x.where(x.notna(), None).to_dict("records")  # floats exact
        batch = c.post(PREDICT, json={"records": gold_records})
        assert batch.status_code == 200, batch.text
        for a, b, k in zip(
            till.json()["predictions"], batch.json()["predictions"], keys, strict=True
        ):
            assert a["basket_id"] == k
            assert a["class"] == b["class"]
            for cls, p in b["probabilities"].items():
                assert a["probabilities"][cls] == pytest.approx(p, abs=1e-9)
        one = c.post(BASKETS, json=requests[keys[0]])
        assert one.status_code == 200
        assert (
            one.json()["predictions"][0]["class"]
            == batch.json()["predictions"][0]["class"]
        )


@pytest.fixture
def served(trained: Trained, tmp_path):
    root = tmp_path / "models"
    publish_bundle(trained, root)
    publish_online(trained, root)
    week = trained.test["shop_week"].max()
    requests = till_requests(trained.silver[trained.silver["SHOP_WEEK"] == week])
    with make_client(root) as c:
        yield c, root, requests


def _a_known_customer(requests: dict[str, dict], trained: Trained) -> dict:
    week = trained.test["shop_week"].max()
    gold = trained.gold[trained.gold["shop_week"] == week]
    key = gold.loc[gold["cust_prev_baskets"] > 2, "basket_key"].iloc[0]
    return dict(requests[key])


def test_unknown_products_and_store_are_named_not_refused(served, trained):
    c, _, requests = served
    body = _a_known_customer(requests, trained)
    before = c.post(BASKETS, json=body).json()["predictions"][0]
    assert before["unknown_store"] is False
    body["store"] = "STORE99999"
    body["lines"] = [
        *body["lines"],
        {"product": "PRD9999999", "quantity": 2, "spend": 3.5},
    ]
    r = c.post(BASKETS, json=body)
    assert r.status_code == 200, r.text
    pred = r.json()["predictions"][0]
    assert pred["unknown_products"] == sorted(
        [*before["unknown_products"], "PRD9999999"]
    )
    assert pred["unknown_store"] is True
    assert pred["customer_known"] is True
    # the store's format and region are missing categories, not an error
    assert set(pred["unknown_categories"]) <= {"store_format", "store_region"}


def test_a_basket_may_carry_its_stores_codes(served, trained):
    """A store the online store has not seen, sent with its format and region, is
    featurised from them and is not unknown; the answer is the one the same
    basket gets in a known store of that format and region. Half the pair is a
    422 naming the missing field."""
    c, _, requests = served
    body = _a_known_customer(requests, trained)
    week = trained.test["shop_week"].max()
    lines = trained.silver[trained.silver["SHOP_WEEK"] == week]
    home = lines[lines["STORE_CODE"] == body["store"]].iloc[0]
    codes = {"store_format": home["STORE_FORMAT"], "store_region": home["STORE_REGION"]}
    known = c.post(BASKETS, json=body).json()["predictions"][0]
    opened = c.post(BASKETS, json={**body, "store": "STORE99999", **codes})
    assert opened.status_code == 200, opened.text
    pred = opened.json()["predictions"][0]
    assert pred["unknown_store"] is False
    assert "store_format" not in pred.get("unknown_categories", [])
    assert pred["class"] == known["class"]
    assert pred["probabilities"] == pytest.approx(known["probabilities"], abs=1e-12)
    half = c.post(
        BASKETS,
        json={**body, "store": "STORE99999", "store_format": codes["store_format"]},
    )
    assert half.status_code == 422
    assert "store_format is given without store_region" in half.text


def test_a_line_may_carry_its_products_codes(served, trained):
    """A product the online store has not seen, sent with its department and
    division, is featurised from them and is not unknown; the same line without
    them is an unknown department. Half the pair is refused, naming the field."""
    c, root, requests = served
    body = _a_known_customer(requests, trained)
    store = online_store(root)
    schema = build_schema(input_schema(trained.retail, trained.train), "retail")
    new_line = {"product": "PRD9999999", "quantity": 2, "spend": 30.0}
    codes = {"department": "DEP00001", "division": "D00001"}

    def record(extra: dict) -> dict:
        lines = [*body["lines"], {**new_line, **extra}]
        till = TillBasket.model_validate({**body, "lines": lines})
        return USE_CASE.basket_record(till, schema, store)

    plain, coded = record({}), record(codes)
    assert "PRD9999999" in plain["_till"]["unknown_products"]
    assert "PRD9999999" not in coded["_till"]["unknown_products"]
    assert coded["share_d00001"] > plain["share_d00001"]  # its spend counts there
    assert plain["share_other"] > coded["share_other"]
    for half in ({"department": "DEP00001"}, {"division": "D00001"}):
        r = c.post(BASKETS, json={**body, "lines": [{**new_line, **half}]})
        assert r.status_code == 422, r.text
        missing = "division" if "department" in half else "department"
        assert missing in r.text and "lines" in r.text


def test_an_anonymous_and_an_unknown_card_get_no_history(served, trained):
    c, root, requests = served
    body = _a_known_customer(requests, trained)
    store = online_store(root)
    schema = build_schema(input_schema(trained.retail, trained.train), "retail")
    known = USE_CASE.basket_record(TillBasket.model_validate(body), schema, store)
    assert known["cust_prev_baskets"] > 2 and known["cust_price_sensitivity"]
    for card in (None, "CUST9999999999"):
        rec = USE_CASE.basket_record(
            TillBasket.model_validate({**body, "customer_card": card}), schema, store
        )
        assert rec["cust_prev_baskets"] == 0.0
        for f in rf.HISTORY_COLUMNS[1:]:
            assert rec[f] is None, f
        assert rec["cust_price_sensitivity"] is None
        assert rec["cust_lifestage"] is None
        assert rec["_till"]["customer_known"] is False
        # the basket's own features do not depend on who shops
        for f in rf.BASKET_COLUMNS:
            assert rec[f] == known[f]
    r = c.post(BASKETS, json={**body, "customer_card": None})
    assert r.status_code == 200
    assert r.json()["predictions"][0]["customer_known"] is False


def test_a_basket_inside_the_stores_data_is_refused_by_field(served, trained):
    c, _, requests = served
    body = _a_known_customer(requests, trained)
    old = trained.gold[trained.gold["shop_week"] < trained.test["shop_week"].max()]
    d = str(int(old["shop_date"].max()))
    r = c.post(BASKETS, json={**body, "time": f"{d[:4]}-{d[4:6]}-{d[6:]}T06:00:00"})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail[0]["field"] == "time"
    assert "not after the newest hour" in detail[0]["problem"]
    r = c.post(BASKETS, json={"records": [body, {**body, "time": body["time"] + "Z"}]})
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "records[1].time"  # a zone: no
    r = c.post(BASKETS, json={**body, "time": "2026-02-30T10:00:00"})
    assert r.status_code == 422
    assert "day is out of range" in r.json()["detail"][0]["problem"]
    bad = {**body, "lines": [{"product": "PRD0000001", "quantity": 0, "spend": 1.0}]}
    r = c.post(BASKETS, json=bad)
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "lines[0].quantity"


def test_no_store_answers_503_and_a_refused_store_keeps_the_old(trained, tmp_path):
    root = tmp_path / "models"
    publish_bundle(trained, root)
    week = trained.test["shop_week"].max()
    requests = till_requests(trained.silver[trained.silver["SHOP_WEEK"] == week])
    body = next(iter(requests.values()))
    with make_client(root) as c:
        r = c.post(BASKETS, json=body)
        assert r.status_code == 503 and "online feature store" in r.json()["error"]
        assert c.post(
            PREDICT, json=trained.test[trained.retail.features].iloc[0].to_dict()
        ).status_code in (200, 422)
        first = publish_online(trained, root, before_week=week - 1)
        c.post("/admin/reload", headers=AUTH)
        status = c.get("/v1/models").json()["models"][0]["online_store"]
        assert status["version"] == first["version"]
        assert c.post(BASKETS, json=body).status_code == 200
        # a store built by other feature definitions must not serve
        publish_online(trained, root, definitions=rf.DEFINITIONS_VERSION + 1)
        c.post("/admin/reload", headers=AUTH)
        status = c.get("/v1/models").json()["models"][0]["online_store"]
        assert status["version"] == first["version"]
        assert "definitions version" in status["last_error"]["error"]
        assert c.post(BASKETS, json=body).status_code == 200
        # the next good one is swapped in
        second = publish_online(trained, root)
        c.post("/admin/reload", headers=AUTH)
        status = c.get("/v1/models").json()["models"][0]["online_store"]
        assert status["version"] == second["version"] != first["version"]
        assert status["last_error"] is None
        assert status["rows"]["customers"] > 0


def test_the_shared_definitions_match_pandas_on_edge_cases():
    """One-line baskets (std 0), even and odd line counts (medians), a basket whose
    lines are all outside the named divisions, repeated departments."""
    rng = np.random.default_rng(3)
    n_lines = np.array([1, 2, 3, 4, 7, 1, 12])
    basket = np.repeat(np.arange(len(n_lines)), n_lines)
    rng.shuffle(basket)
    spend = rng.uniform(0.1, 9, len(basket)).round(2)
    qty = rng.integers(1, 5, len(basket)).astype(float)
    dept = rng.choice(["DEP00001", "DEP00002", "DEP00003"], len(basket))
    div = rng.choice([*rf.DIVISIONS[:3], "D00007"], len(basket))
    div[basket == 5] = "D00007"
    got = rf.basket_features(basket, spend, qty, dept, div, len(n_lines))
    frame = pd.DataFrame(
        {"b": basket, "s": spend, "q": qty, "u": spend / qty, "d": dept, "v": div}
    )
    g = frame.groupby("b")
    np.testing.assert_allclose(got["unit_price_median"], g["u"].median())
    np.testing.assert_allclose(got["unit_price_std"], g["u"].std().fillna(0.0))
    np.testing.assert_allclose(got["unit_price_mean"], g["u"].mean())
    np.testing.assert_array_equal(got["n_departments"], g["d"].nunique())
    np.testing.assert_array_equal(got["n_lines"], n_lines)
    assert got["share_other"][5] == 1.0
    shares = np.sum([got[c] for c in rf.SHARE_COLUMNS], axis=0)
    np.testing.assert_allclose(shares, 1.0)
    # weekday: LGSR numbers Sunday 1 .. Saturday 7
    assert rf.lgsr_weekday(np.array([20061203, 20061209, 20261205])).tolist() == [
        1.0,
        7.0,
        7.0,
    ]


def test_encoded_codes_give_the_features_of_strings():
    """A run passes departments and divisions dictionary-encoded (each distinct code
    looked up once), a till passes strings: the same features, bit for bit, with a
    missing department and a division outside the named ones among the lines."""
    rng = np.random.default_rng(5)
    basket = rng.integers(0, 40, 400)
    basket[:40] = np.arange(40)  # every basket has a line
    spend = rng.uniform(0.1, 9, len(basket)).round(2)
    qty = rng.integers(1, 5, len(basket)).astype(float)
    dept = rng.choice(["DEP00001", "DEP00002", "DEP00003", None], len(basket))
    div = rng.choice([*rf.DIVISIONS, "D00007", None], len(basket))
    as_strings = rf.basket_features(basket, spend, qty, dept, div, 40)
    encoded = rf.basket_features(
        basket,
        spend,
        qty,
        rf.Encoded(*pd.factorize(pd.Series(dept))),
        rf.Encoded(*pd.factorize(pd.Series(div))),
        40,
    )
    assert (pd.Series(dept).isna().any(), pd.Series(div).isna().any()) == (True, True)
    for column, values in as_strings.items():
        np.testing.assert_array_equal(encoded[column], values, err_msg=column)


def test_a_model_of_other_feature_definitions_does_not_answer_tills(trained, tmp_path):
    """A champion trained before the definitions were versioned (or on others)
    answers /predict as before, and /baskets with 503 naming both versions."""
    root = tmp_path / "models"

    def old(request):
        request.input_schema["options"].pop("feature_definitions")

    publish_bundle(trained, root, tamper=old)
    publish_online(trained, root)
    week = trained.test["shop_week"].max()
    requests = till_requests(trained.silver[trained.silver["SHOP_WEEK"] == week])
    with make_client(root) as c:
        r = c.post(BASKETS, json=next(iter(requests.values())))
        assert r.status_code == 503
        error = r.json()["error"]
        assert "from before they were versioned" in error
        assert f"holds version {rf.DEFINITIONS_VERSION}" in error
        record = trained.test[trained.retail.features].astype(object).iloc[0]
        body = record.where(record.notna(), None).to_dict()
        assert c.post(PREDICT, json=body).status_code == 200


def test_the_readme_example_is_answered(served):
    """``curl ... -d @serving/examples/retail_basket.json`` (the README): the file
    is the API docs' example, and a basket a store never saw is still answered."""
    c, _, _ = served
    example = json.loads((REPO / "serving/examples/retail_basket.json").read_text())
    assert example == USE_CASE.basket_example(None, [])
    spec = c.get("/openapi.json").json()
    body = spec["paths"][BASKETS]["post"]["requestBody"]["content"]["application/json"]
    assert body["examples"]["one record"]["value"] == example
    r = c.post(BASKETS, json=example)
    assert r.status_code == 200, r.text
    pred = r.json()["predictions"][0]
    assert pred["basket_id"] == example["basket_id"]
    assert pred["class"] in ("LA", "MM", "UM")
