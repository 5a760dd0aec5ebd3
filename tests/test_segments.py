"""k-means segments: recovery of known groups, choosing k, the saved model, determinism."""

import copy
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score

from custlens import segments as seg
from custlens.labels import value_by_label
from custlens.summary import customers


def known_groups(seed=0, n=200):
    """Three well-separated kinds of customer: loyal big spenders, one-time lapsed, regular mid."""
    rng = np.random.default_rng(seed)
    kinds = {
        "loyal": dict(recency=(3, 15), frequency=(20, 30), aov=(200, 300), tenure=(600, 700)),
        "lapsed": dict(recency=(300, 400), frequency=(1, 1), aov=(15, 30), tenure=(300, 400)),
        "regular": dict(recency=(40, 60), frequency=(4, 6), aov=(60, 90), tenure=(150, 200)),
    }
    rows = []
    for truth, (kind, spec) in enumerate(kinds.items()):
        for i in range(n):
            frequency = int(rng.integers(spec["frequency"][0], spec["frequency"][1] + 1))
            aov = float(rng.uniform(*spec["aov"]))
            recency = int(rng.integers(*spec["recency"]))
            rows.append({"customer_id": f"{kind}-{i:04d}", "recency_days": recency, "frequency": frequency,
                         "monetary": round(frequency * aov, 2), "avg_order_value": round(aov, 2),
                         "tenure_days": max(recency, int(rng.integers(*spec["tenure"]))), "truth": truth})
    frame = pd.DataFrame(rows)
    frame["customer_id"] = frame["customer_id"].astype("string")
    return frame


def test_known_groups_are_recovered_and_k_is_found():
    summary = known_groups()
    fit = seg.fit(summary, k="auto", seed=0)
    assert fit.model.k == 3 and fit.k_scores.loc[fit.k_scores["chosen"], "k"].item() == 3
    assert adjusted_rand_score(summary["truth"], fit.customers["segment"]) > 0.9
    names = dict(zip(fit.customers["customer_id"].str.split("-").str[0], fit.customers["segment_name"]))
    assert names["loyal"] == "high value · frequent · recent"
    assert names["lapsed"] == "low value · one-time · lapsed"
    # segment 1 is the most valuable
    means = fit.customers.groupby("segment")["monetary"].mean()
    assert means.is_monotonic_decreasing and fit.customers.loc[fit.customers["segment"] == 1, "customer_id"].str.startswith("loyal").all()
    assert "k = 3: the best silhouette" in fit.reason


def test_k_scores_table():
    fit = seg.fit(known_groups(n=60), k="auto", seed=0)
    scores = fit.k_scores
    assert scores["k"].tolist() == list(range(2, 11)) and scores["chosen"].sum() == 1
    assert (scores["inertia"].diff().dropna() <= 1e-6).all()  # more clusters, less inertia
    best = scores.loc[scores["silhouette"].round(3).idxmax()]
    assert bool(best["chosen"])


def silhouettes_by_hand(x, labels):
    """s(i) = (b − a) / max(a, b): a the mean distance to the others of i's cluster, b the
    smallest mean distance to another cluster; 0 for a customer alone in its cluster or with
    a = b = 0 (all at one point)."""
    distance = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2))
    out = np.zeros(len(x))
    for i in range(len(x)):
        own = labels == labels[i]
        if own.sum() == 1:
            continue
        a = distance[i, own].sum() / (own.sum() - 1)
        b = min(distance[i, labels == c].mean() for c in set(labels) if c != labels[i])
        out[i] = (b - a) / max(a, b) if max(a, b) > 0 else 0.0
    return out


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 40).flatmap(lambda n: st.tuples(
    st.lists(st.tuples(st.integers(-3, 3), st.integers(-3, 3)), min_size=n, max_size=n),  # repeats: zero distances
    st.lists(st.sampled_from([0, 2, 3, 7]), min_size=n, max_size=n))))  # labels with gaps
def test_silhouettes_equal_the_hand_computation_and_sklearn(points_labels):
    from sklearn.metrics import pairwise_distances, silhouette_samples

    points, labels = points_labels
    x, labels = np.array(points, dtype="float64"), np.array(labels)
    if len(np.unique(labels)) < 2 or len(np.unique(labels)) == len(labels):
        return  # a silhouette needs 2..n-1 clusters (fit never asks for others)
    distances = pairwise_distances(x)
    got = seg.silhouettes(distances, labels)
    assert got == pytest.approx(silhouettes_by_hand(x, labels), abs=1e-12)
    assert got == pytest.approx(silhouette_samples(distances, labels, metric="precomputed"), abs=1e-12)


@pytest.mark.parametrize("k", [4, "auto"])
def test_silhouettes_against_a_hand_computation(k):
    """The model's silhouette, each segment's and the k table's, from the standardised features."""
    summary = known_groups(n=60)
    fit = seg.fit(summary, k=k, seed=0)
    raw, _ = seg.raw_features(summary, None, list(seg.DEFAULT_FEATURES))
    matrix = seg.transform(raw)
    scale = matrix.std(axis=0)
    x = (matrix - matrix.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
    labels = fit.customers["segment"].to_numpy()
    expected = silhouettes_by_hand(x, labels)
    assert fit.model.silhouette == pytest.approx(expected.mean(), abs=1e-12)
    per_segment = pd.Series(expected).groupby(labels).mean()
    assert fit.sample_silhouettes.to_numpy() == pytest.approx(per_segment.to_numpy(), abs=1e-12)
    chosen = fit.k_scores.set_index("k").loc[fit.model.k, "silhouette"]
    if k == 4:  # the one fit is the model
        assert chosen == pytest.approx(expected.mean(), abs=1e-12)
    else:  # the model is refitted on everyone: the same clusters here, so the same silhouette
        assert chosen == pytest.approx(expected.mean(), abs=1e-3)


def test_fixed_k_and_unique_names():
    fit = seg.fit(known_groups(), k=6, seed=0)
    assert fit.model.k == 6 and len(set(fit.model.names)) == 6
    assert set(fit.customers["segment"]) == set(range(1, 7))


def test_share_features():
    purchases = pd.DataFrame({
        "customer_id": pd.array(["a", "a", "b", "c"], dtype="string"),
        "order_date": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-01-05", "2024-01-07"]),
        "amount": [30.0, 10.0, 50.0, -5.0],
        "category": ["Tea", "Coffee", "Coffee", "Tea"],
    })
    summary = customers(purchases.assign(amount=purchases["amount"].abs())).customers
    values = {"category": value_by_label(purchases, "category")}
    raw, levels = seg.raw_features(summary, values, ["category_shares"])
    assert levels == {"category_shares": ["Coffee", "Tea"]}  # Coffee 60, Tea 30
    assert raw.loc[0].tolist() == [0.25, 0.75]  # a: 10 coffee, 30 tea
    assert raw.loc[1].tolist() == [1.0, 0.0] and raw.loc[2].tolist() == [0.0, 0.0]  # c only returned
    with pytest.raises(seg.ModelError, match="needs a channel column"):
        seg.raw_features(summary, values, ["channel_shares"])


def test_save_load_apply_round_trip(tmp_path):
    summary = known_groups(n=80)
    fit = seg.fit(summary, k="auto", seed=3)
    path = tmp_path / "segments.json"
    path.write_text(json.dumps(fit.model.to_json()), encoding="utf-8")
    model = seg.read_model(str(path))
    applied = seg.assign(model, summary)
    assert applied["segment"].tolist() == fit.customers["segment"].tolist()
    assert applied["segment_name"].tolist() == fit.customers["segment_name"].tolist()
    assert np.allclose(applied["distance"], fit.customers["distance"], atol=1e-3)
    # new customers get the nearest saved centroid
    newcomers = known_groups(seed=9, n=20)
    assigned = seg.assign(model, newcomers)
    assert adjusted_rand_score(newcomers["truth"], assigned["segment"]) > 0.9


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(format="something-else"), "not a custlens segment model"),
    (lambda d: d.update(version=99), "version 99"),
    (lambda d: d["centroids"].pop(), "centroids are"),
    (lambda d: d["names"].__setitem__(1, d["names"][0]), "one unique name"),
    (lambda d: d["scaler"]["scale"].__setitem__(0, 0.0), "not finite"),
    (lambda d: d.pop("scaler"), "damaged"),
    (lambda d: d.update(features=["recency", "loyalty"]), "unknown features"),
    (lambda d: d.update(columns=["monetary", "recency_days", "frequency", "tenure_days", "avg_order_value"]),
     "columns do not follow"),
])
def test_tampered_models_are_refused(edit, message):
    data = seg.fit(known_groups(n=40), k=3, seed=0).model.to_json()
    broken = copy.deepcopy(data)
    edit(broken)
    with pytest.raises(seg.ModelError, match=message):
        seg.SegmentModel.from_json(broken, source="m.json")


def test_model_for_other_features_is_refused():
    purchases = pd.DataFrame({"customer_id": pd.array(["a", "b", "c", "d"], dtype="string"),
                              "order_date": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]),
                              "amount": [1.0, 2.0, 3.0, 4.0], "category": ["x", "y", "x", "y"]})
    summary = customers(purchases).customers
    model = seg.fit(summary, {"category": value_by_label(purchases, "category")},
                    features=["monetary", "category_shares"], k=2).model
    with pytest.raises(seg.ModelError, match="needs a category column"):
        seg.assign(model, summary, {})


def test_read_model_errors(tmp_path):
    with pytest.raises(seg.ModelError, match="no such model file"):
        seg.read_model(str(tmp_path / "none.json"))
    (tmp_path / "bad.json").write_text("{nope", encoding="utf-8")
    with pytest.raises(seg.ModelError, match="not JSON"):
        seg.read_model(str(tmp_path / "bad.json"))


def test_same_seed_same_model_bytes():
    a = json.dumps(seg.fit(known_groups(), seed=5).model.to_json(), sort_keys=True)
    b = json.dumps(seg.fit(known_groups(), seed=5).model.to_json(), sort_keys=True)
    assert a == b


purchase_lines = st.lists(
    st.tuples(st.integers(0, 29), st.integers(0, 300), st.decimals(1, 500, places=2).map(float)),
    min_size=12, max_size=80)


@settings(max_examples=25)
@given(purchase_lines, st.randoms(use_true_random=False))
def test_one_segment_each_and_row_order_free(lines, rnd):
    purchases = pd.DataFrame([(f"c{c:02d}", pd.Timestamp("2024-01-01") + pd.Timedelta(days=d), a) for c, d, a in lines],
                             columns=["customer_id", "order_date", "amount"])
    purchases["customer_id"] = purchases["customer_id"].astype("string")
    summary = customers(purchases).customers
    if len(summary) < 4:
        return
    fit = seg.fit(summary, k=3, seed=0)
    table = fit.customers
    assert table["customer_id"].is_unique and len(table) == len(summary)
    assert table["segment"].between(1, 3).all() and table["segment_name"].notna().all()
    shuffled = purchases.sample(frac=1, random_state=rnd.randint(0, 1000))
    again = seg.fit(customers(shuffled).customers, k=3, seed=0).customers
    pd.testing.assert_frame_equal(again, table)


def test_minibatch_above_the_limit(monkeypatch):
    monkeypatch.setattr(seg, "MINIBATCH_ABOVE", 100)
    fit = seg.fit(known_groups(n=60), k="auto", seed=0)
    assert fit.model.algorithm == "MiniBatchKMeans" and "MiniBatchKMeans, since there are more than 100" in fit.reason
    assert adjusted_rand_score(known_groups(n=60)["truth"], fit.customers["segment"]) > 0.9


@pytest.mark.parametrize("n, k, message", [
    (0, 2, "no customers to segment"), (0, "auto", "no customers to segment"),
    (1, 2, "--k 2 needs more customers than segments: there is 1 customer"),
    (2, 2, "--k 2 needs more customers than segments: there are 2 customers"),
    (2, "auto", "cannot make segments of 2 customers with k = auto"),
])
def test_too_few_customers_for_the_segments_is_said_plainly(n, k, message):
    """k-means with k segments, and the silhouette that judges them, need more than k customers."""
    from custlens.errors import CustlensError

    few = known_groups(n=1).head(n)
    with pytest.raises(CustlensError, match=message):
        seg.fit(few, k=k)


def test_three_customers_make_two_segments():
    fit = seg.fit(known_groups(n=1), k=2)
    assert sorted(fit.customers["segment"].unique().tolist()) == [1, 2]
