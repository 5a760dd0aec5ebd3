"""`custlens segment` end to end: fit, profile, k table, save and apply, RFM crosstab, formats."""

import io
import json

import pandas as pd
import pytest

from conftest import EXAMPLES
from custlens import segments as seg
from custlens.io import load_purchases
from custlens.labels import value_by_label
from custlens.summary import customers

PURCHASES = str(EXAMPLES / "purchases.csv")


def read(result):
    assert result.exit_code == 0, result.stderr
    return pd.read_csv(io.StringIO(result.stdout), dtype={"customer_id": str}, keep_default_na=False, na_values=[""])


def test_segment_matches_the_library(run):
    result = run("segment", PURCHASES)
    table = read(result)
    purchases = load_purchases([PURCHASES])[0]
    summary = customers(purchases)
    values = {role: value_by_label(purchases, role, summary.as_of) for role in ("category", "channel")}
    fit = seg.fit(summary.customers, values, seed=0)
    assert table["segment"].tolist() == fit.customers["segment"].tolist()
    assert table.columns.tolist()[:4] == ["customer_id", "segment", "segment_name", "distance"]
    assert fit.reason in result.stderr


def test_profile_show_k_and_vs_rfm(run):
    profile = read(run("segment", PURCHASES, "--summary", "-q"))
    assert profile["customers"].sum() == 2000 - 0 and profile["share"].sum() == pytest.approx(1)
    assert profile["segment"].tolist() == list(range(1, len(profile) + 1))
    assert profile["revenue_share"].sum() == pytest.approx(1)
    assert {"median_monetary", "top_categories", "silhouette"} <= set(profile.columns)
    ks = read(run("segment", PURCHASES, "--show-k", "-q"))
    assert ks["k"].tolist() == list(range(2, 11)) and ks["chosen"].sum() == 1
    assert ks.loc[ks["chosen"], "k"].item() == len(profile)
    cross = read(run("segment", PURCHASES, "--vs-rfm", "-q"))
    assert cross["total"].sum() == profile["customers"].sum()
    assert cross["segment_name"].tolist() == profile["segment_name"].tolist()
    five = read(run("segment", PURCHASES, "--k", 5, "--features", "recency,frequency,monetary", "--summary", "-q"))
    assert len(five) == 5 and "median_tenure_days" not in five
    shares = read(run("segment", PURCHASES, "--k", 4, "--features", "monetary,category_shares,channel_shares", "-q"))
    assert any(c.startswith("category_share:") for c in shares.columns)
    assert any(c.startswith("channel_share:") for c in shares.columns)


def test_save_then_apply_to_new_data(run, tmp_path):
    model = tmp_path / "segments.json"
    fitted = read(run("segment", PURCHASES, "--save-model", model, "-q"))
    data = json.loads(model.read_text(encoding="utf-8"))
    assert data["format"] == "custlens-segments" and data["fitted_on"]["customers"] == 2000
    assert data["fitted_on"]["rows"] == len(load_purchases([PURCHASES])[0])
    applied = read(run("segment", PURCHASES, "--model", model, "-q"))
    assert applied["segment"].tolist() == fitted["segment"].tolist()
    assert applied["segment_name"].tolist() == fitted["segment_name"].tolist()
    # a later week: fewer lines, same segments and names, no refit
    later = read(run("segment", PURCHASES, "--model", model, "--as-of", "2025-06-30", "-q"))
    assert set(later["segment_name"]) <= set(data["names"])
    data["centroids"] = data["centroids"][:-1]
    (tmp_path / "broken.json").write_text(json.dumps(data), encoding="utf-8")
    broken = run("segment", PURCHASES, "--model", tmp_path / "broken.json")
    assert broken.exit_code == 1 and "damaged or edited" in broken.stderr and "Traceback" not in broken.stderr
    (tmp_path / "other.json").write_text('{"hello": 1}', encoding="utf-8")
    other = run("segment", PURCHASES, "--model", tmp_path / "other.json")
    assert other.exit_code == 1 and "not a custlens segment model" in other.stderr
    assert run("segment", PURCHASES, "--model", model, "--k", 3).exit_code == 2


def test_same_data_same_bytes_and_options(run):
    first = run("segment", PURCHASES, "--seed", 1, "-q")
    second = run("segment", PURCHASES, "--seed", 1, "-q")
    assert first.stdout == second.stdout
    assert run("segment", PURCHASES, "--k", "many").exit_code == 2
    bad = run("segment", PURCHASES, "--features", "recency,loyalty")
    assert bad.exit_code == 1 and "unknown loyalty" in bad.stderr


@pytest.mark.parametrize("ext", ["csv", "tsv", "json", "jsonl", "parquet", "xlsx"])
def test_segment_files(run, tmp_path, ext):
    out = tmp_path / f"segments.{ext}"
    assert run("segment", PURCHASES, "--summary", "-o", out, "-q").exit_code == 0
    assert out.stat().st_size > 0
