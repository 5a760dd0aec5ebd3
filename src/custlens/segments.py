"""k-means behavioural segments, saved as plain JSON so that a weekly job re-applies them.

Features come from the per-customer summary:

=============  ===================================  ==============================
feature        column                               transform
=============  ===================================  ==============================
recency        recency_days                         signed log1p, then standardise
frequency      frequency                            signed log1p, then standardise
monetary       monetary (net)                       signed log1p, then standardise
tenure         tenure_days                          signed log1p, then standardise
aov            avg_order_value                      signed log1p, then standardise
category_shares  share of purchase value per category (top 10, the rest as "other")  standardise
channel_shares   share of purchase value per channel (top 10, the rest as "other")   standardise
=============  ===================================  ==============================

signed log1p(x) = sign(x)·log(1 + |x|) (net monetary value can be negative); standardise =
(x − mean) / standard deviation of the data the model was fitted on (a constant column keeps
scale 1). ``k="auto"`` fits k = 2..10 (3 initialisations each) on a seeded sample of at most
20,000 customers, keeps the best silhouette (measured on 5,000 of them; rounded to 3 decimals;
ties go to the smaller k), then fits that k on every customer with 10 initialisations.
Segments are numbered by mean monetary value, descending: segment 1 is the most valuable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import CustlensError, count
from .fast import isin
from .labels import top_shares
from .labels import totals as label_totals

FORMAT = "custlens-segments"
VERSION = 1
BASE_FEATURES = {"recency": "recency_days", "frequency": "frequency", "monetary": "monetary",
                 "tenure": "tenure_days", "aov": "avg_order_value"}
SHARE_FEATURES = {"category_shares": "category", "channel_shares": "channel"}
DEFAULT_FEATURES = ["recency", "frequency", "monetary", "tenure", "aov"]
MAX_SHARE_COLUMNS = 10
FIT_SAMPLE = 20_000  # customers the candidate k are fitted on
SILHOUETTE_SAMPLE = 5_000  # of those, the ones the silhouette is measured on (it costs n²)
MINIBATCH_ABOVE = 200_000


class ModelError(CustlensError):
    """A segment model file is not usable: not a custlens model, tampered, or for other data."""


@dataclass
class SegmentModel:
    """What a fit learned; everything needed to assign new customers (see :meth:`to_json`)."""

    features: list[str]
    columns: list[str]  # the columns of the feature matrix, in order
    mean: np.ndarray
    scale: np.ndarray
    centroids: np.ndarray  # k × columns, standardised space, in segment order (1 = most valuable)
    names: list[str]
    silhouette: float
    algorithm: str
    seed: int
    fitted_on: dict = field(default_factory=dict)

    @property
    def k(self) -> int:
        return len(self.centroids)

    def to_json(self) -> dict:
        """A plain, diffable JSON document (no pickle)."""
        return {
            "format": FORMAT, "version": VERSION, "k": self.k, "features": self.features, "columns": self.columns,
            "transform": {"log1p_signed": [c for c in self.columns if c in BASE_FEATURES.values()],
                          "standardise": "(x - mean) / scale"},
            "scaler": {"mean": _floats(self.mean), "scale": _floats(self.scale)},
            "centroids": [_floats(row) for row in self.centroids],
            "names": self.names, "silhouette": round(float(self.silhouette), 6), "algorithm": self.algorithm,
            "seed": self.seed, "fitted_on": self.fitted_on,
        }

    @classmethod
    def from_json(cls, data, source: str = "model") -> "SegmentModel":
        """Read and check a saved model; anything off raises :class:`ModelError`."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ModelError(f"{source}: not a custlens segment model (no \"format\": \"{FORMAT}\"); "
                             "make one with custlens segment --save-model FILE.json")
        if data.get("version") != VERSION:
            raise ModelError(f"{source}: model format version {data.get('version')!r}; this custlens reads {VERSION}")
        try:
            columns = [str(c) for c in data["columns"]]
            mean = np.asarray(data["scaler"]["mean"], dtype="float64")
            scale = np.asarray(data["scaler"]["scale"], dtype="float64")
            centroids = np.asarray(data["centroids"], dtype="float64")
            names = [str(n) for n in data["names"]]
            features = [str(f) for f in data["features"]]
            k = int(data["k"])
        except (KeyError, TypeError, ValueError) as e:
            raise ModelError(f"{source}: the model file is damaged ({type(e).__name__}: {e})") from e
        d = len(columns)
        problems = []
        if centroids.ndim != 2 or centroids.shape != (k, d):
            problems.append(f"centroids are {centroids.shape}, expected ({k}, {d})")
        if mean.shape != (d,) or scale.shape != (d,):
            problems.append("scaler does not match the columns")
        if len(names) != k or len(set(names)) != k:
            problems.append("names are not one unique name per segment")
        if not np.all(np.isfinite(centroids)) or not np.all(np.isfinite(mean)) or not np.all(scale > 0):
            problems.append("numbers are not finite (or a scale is not positive)")
        unknown = [f for f in features if f not in BASE_FEATURES and f not in SHARE_FEATURES]
        if unknown:
            problems.append(f"unknown features {unknown}")
        expected_columns = feature_columns(features, {f: _share_levels(columns, f) for f in features
                                                      if f in SHARE_FEATURES})
        if expected_columns != columns:
            problems.append("the columns do not follow from the features")
        if problems:
            raise ModelError(f"{source}: the model file is damaged or edited: {'; '.join(problems)}")
        return cls(features=features, columns=columns, mean=mean, scale=scale, centroids=centroids, names=names,
                   silhouette=float(data.get("silhouette", float("nan"))), algorithm=str(data.get("algorithm", "")),
                   seed=int(data.get("seed", 0)), fitted_on=dict(data.get("fitted_on", {})))


def _floats(values) -> list[float]:
    return [float(repr_round(v)) for v in np.asarray(values, dtype="float64")]


def repr_round(value: float) -> float:
    """Round to 12 significant digits so saved models diff cleanly and read back identically."""
    return float(f"{value:.12g}")


def _share_levels(columns: list[str], feature: str) -> list[str]:
    prefix = SHARE_FEATURES[feature] + "_share:"
    return [c[len(prefix):] for c in columns if c.startswith(prefix)]


def parse_features(text: str | None) -> list[str]:
    """``"recency,frequency,category_shares"`` → a checked list (default: the five base features)."""
    if not text:
        return list(DEFAULT_FEATURES)
    features = [f.strip() for f in text.split(",") if f.strip()]
    unknown = [f for f in features if f not in BASE_FEATURES and f not in SHARE_FEATURES]
    if unknown or not features:
        raise CustlensError(f"--features: unknown {', '.join(unknown) or '(none given)'}; choose from "
                            + ", ".join([*BASE_FEATURES, *SHARE_FEATURES]))
    return list(dict.fromkeys(features))


def feature_columns(features: list[str], levels: dict[str, list[str]]) -> list[str]:
    columns = []
    for feature in features:
        if feature in BASE_FEATURES:
            columns.append(BASE_FEATURES[feature])
        else:
            columns.extend(f"{SHARE_FEATURES[feature]}_share:{level}" for level in levels.get(feature, []))
    return columns


def share_levels(values: pd.DataFrame) -> list[str]:
    """The 10 labels with the most purchase value (then name) in a :mod:`custlens.labels` table,
    plus "other" when there are more."""
    sizes = label_totals(values)
    return [str(v) for v in sizes.index[:MAX_SHARE_COLUMNS]] + (["other"] if len(sizes) > MAX_SHARE_COLUMNS else [])


def raw_features(summary: pd.DataFrame, values: dict[str, pd.DataFrame] | None, features: list[str], *,
                 levels: dict[str, list[str]] | None = None) -> tuple[pd.DataFrame, dict]:
    """The untransformed feature matrix, one row per customer of ``summary`` (same order), and
    the share levels used. ``values`` holds the :mod:`custlens.labels` table of each label
    column (category, channel) up to the as-of date; a share is a customer's value (in cents)
    under the level over their value under all levels."""
    levels = dict(levels or {})
    out = pd.DataFrame(index=summary.index)
    for feature in features:
        if feature in BASE_FEATURES:
            out[BASE_FEATURES[feature]] = summary[BASE_FEATURES[feature]].astype("float64").to_numpy()
            continue
        column = SHARE_FEATURES[feature]
        if values is None or column not in values:
            raise ModelError(f"--features {feature} needs a {column} column in the purchases; map one with "
                             f"--map {column}=COLUMN or leave {feature} out")
        table = values[column]
        if feature not in levels:
            levels[feature] = share_levels(table)
        known = [lv for lv in levels[feature] if lv != "other"]
        level = table["label"].where(isin(table["label"], known), "other") if "other" in levels[feature] \
            else table["label"]
        spend = table.assign(level=level).groupby(["customer_id", "level"], observed=True)["cents"].sum().unstack(
            fill_value=0)
        spend = spend.reindex(columns=levels[feature], fill_value=0).astype("float64")
        total = spend.sum(axis=1).replace(0, np.nan)
        shares = spend.div(total, axis=0).fillna(0.0)
        shares = shares.reindex(summary["customer_id"].to_numpy()).fillna(0.0)
        for level in levels[feature]:
            out[f"{column}_share:{level}"] = shares[level].to_numpy()
    return out, levels


def transform(raw: pd.DataFrame) -> np.ndarray:
    """Signed log1p on the base columns; share columns as they are."""
    matrix = raw.to_numpy(dtype="float64").copy()
    for j, name in enumerate(raw.columns):
        if name in BASE_FEATURES.values():
            matrix[:, j] = np.sign(matrix[:, j]) * np.log1p(np.abs(matrix[:, j]))
    return matrix


@dataclass
class Fit:
    model: SegmentModel
    customers: pd.DataFrame  # per customer, as :func:`assign` returns it
    k_scores: pd.DataFrame  # k, silhouette, davies_bouldin, inertia, chosen
    reason: str
    sample_silhouettes: pd.Series  # mean silhouette per segment (index 0 = segment 1), on the sample


def fit(summary: pd.DataFrame, values: dict[str, pd.DataFrame] | None = None, *, features: list[str] | None = None,
        k: int | str = "auto", seed: int = 0, k_range=range(2, 11), fitted_on: dict | None = None) -> Fit:
    """Fit k-means on the customers of ``summary``; see the module docstring."""
    from sklearn.metrics import davies_bouldin_score, pairwise_distances

    features = features or list(DEFAULT_FEATURES)
    if summary.empty:
        raise CustlensError("no customers to segment: no customer has an order up to the as-of date")
    raw, levels = raw_features(summary, values, features)
    matrix = transform(raw)
    mean = matrix.mean(axis=0)
    scale = matrix.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    x = (matrix - mean) / scale
    n = len(x)
    candidates = [int(k)] if k != "auto" else [c for c in k_range if c < n]
    if not candidates or min(candidates) < 1:
        raise CustlensError(f"cannot make segments of {count(n, 'customer')} with k = {k}; "
                            "k-means needs more customers than segments")
    if k != "auto" and int(k) >= n:  # the silhouette needs a segment of two customers at least
        raise CustlensError(f"--k {k} needs more customers than segments: there {'is' if n == 1 else 'are'} "
                            f"{count(n, 'customer')}")
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, size=FIT_SAMPLE, replace=False)) if n > FIT_SAMPLE else np.arange(n)
    scored = np.sort(rng.choice(len(sample), size=SILHOUETTE_SAMPLE, replace=False)) \
        if len(sample) > SILHOUETTE_SAMPLE else np.arange(len(sample))
    # Choosing k: each candidate is fitted on the seeded sample and scored there; only the chosen
    # k is then fitted on every customer (with fewer customers than the sample, that is all of them).
    rows, fits = [], {}
    xs = x[sample]
    # the scored customers' distances, computed once for every k's silhouette (200 MB at 5,000 customers)
    distances = pairwise_distances(xs[scored])
    for candidate in candidates:
        estimator = _estimator(candidate, seed, len(xs), n_init=3 if len(candidates) > 1 else 10)
        labels = estimator.fit_predict(xs)
        distinct = len(np.unique(labels))
        silhouette = float(silhouettes(distances, labels[scored]).mean()) \
            if 1 < len(np.unique(labels[scored])) < len(scored) else float("nan")
        db = float(davies_bouldin_score(xs, labels)) if distinct > 1 else float("nan")
        rows.append({"k": candidate, "silhouette": silhouette, "davies_bouldin": db,
                     "inertia": float(estimator.inertia_)})
        fits[candidate] = (estimator, labels)
    scores = pd.DataFrame(rows)
    if k == "auto":
        rounded = scores["silhouette"].round(3).fillna(-2)
        best = int(scores.loc[rounded == rounded.max(), "k"].min())
        row = scores.set_index("k").loc[best]
        on = "" if len(xs) == n else f" on a sample of {len(xs):,} customers"
        reason = (f"k = {best}: the best silhouette{on}, {row.silhouette:.3f} (Davies–Bouldin "
                  f"{row.davies_bouldin:.2f}), among k = {candidates[0]}..{candidates[-1]}")
    else:
        best = int(k)
        reason = f"k = {best}, as asked"
    scores["chosen"] = scores["k"] == best
    if len(xs) == n and len(candidates) == 1:
        estimator, labels = fits[best]
    else:  # the chosen k, on everybody, with the full number of initialisations
        estimator = _estimator(best, seed, n)
        labels = estimator.fit_predict(x)
    centroids = np.asarray(estimator.cluster_centers_)
    # Segment 1 is the most valuable: order clusters by mean monetary value, descending.
    monetary = summary["monetary"].to_numpy(dtype="float64")
    means = np.array([monetary[labels == c].mean() if (labels == c).any() else -np.inf for c in range(best)])
    order = sorted(range(best), key=lambda c: (-means[c], tuple(centroids[c])))
    remap = np.empty(best, dtype=np.int64)
    remap[order] = np.arange(best)
    labels = remap[labels]
    centroids = centroids[order]
    names = name_segments(centroids, list(raw.columns), raw, labels)
    measured = sample[scored]  # the customers of ``distances``
    sample_scores = silhouettes(distances, labels[measured]) \
        if 1 < len(np.unique(labels[measured])) < len(measured) else np.full(len(measured), np.nan)
    per_segment = pd.Series(sample_scores).groupby(labels[measured]).mean()
    model = SegmentModel(features=features, columns=list(raw.columns), mean=mean, scale=scale, centroids=centroids,
                         names=names, silhouette=float(np.nanmean(sample_scores)) if len(sample_scores) else np.nan,
                         algorithm=type(estimator).__name__, seed=seed, fitted_on=dict(fitted_on or {}))
    if model.algorithm == "MiniBatchKMeans":
        reason += f"; MiniBatchKMeans, since there are more than {MINIBATCH_ABOVE:,} customers"
    distance = np.sqrt(((x - centroids[labels]) ** 2).sum(axis=1))
    table = _per_customer(summary, raw, labels, distance, names)
    return Fit(model=model, customers=table, k_scores=scores, reason=reason, sample_silhouettes=per_segment)


def silhouettes(distances: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each point's silhouette from the square matrix of the points' distances: s(i) = (b − a) /
    max(a, b), a = the mean distance from i to the other members of its cluster, b = the smallest
    mean distance from i to the members of another cluster; 0 for a point alone in its cluster or
    with a = b = 0 (sklearn's ``silhouette_samples(..., metric="precomputed")``, which takes 4× as
    long: it sums each point's distances per cluster row by row, where this does it in one matrix
    product). Needs at least two clusters among ``labels``."""
    n = len(labels)
    codes, labels = np.unique(labels, return_inverse=True)
    members = np.zeros((n, len(codes)))
    members[np.arange(n), labels] = 1.0
    sums = distances @ members  # point × cluster: the sum of the point's distances to the cluster
    sizes = members.sum(axis=0)
    own = sizes[labels]
    a = sums[np.arange(n), labels] / np.maximum(own - 1, 1)
    means = sums / sizes
    means[np.arange(n), labels] = np.inf
    b = means.min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (b - a) / np.maximum(a, b)
    s[own == 1] = 0.0
    return np.nan_to_num(s)


def _estimator(k: int, seed: int, n: int, n_init: int = 10):
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if n > MINIBATCH_ABOVE:
        return MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=min(n_init, 5), batch_size=4096)
    return KMeans(n_clusters=k, random_state=seed, n_init=n_init)


def name_segments(centroids: np.ndarray, columns: list[str], raw: pd.DataFrame, labels: np.ndarray) -> list[str]:
    """Readable, unique names from each centroid's position against the population (0 = the
    mean, in standard deviations): value (high/mid/low), frequency (frequent/occasional, or
    one-time when the segment's median frequency is 1), recency (recent/cooling/lapsed); then
    tenure and basket size, then a number, until the names differ."""
    def word(column, high, mid, low, reverse=False):
        if column not in columns:
            return [None] * len(centroids)
        z = centroids[:, columns.index(column)] * (-1 if reverse else 1)
        return [high if v > 0.5 else low if v < -0.5 else mid for v in z]

    value = word("monetary", "high value", "mid value", "low value")
    freq = word("frequency", "frequent", "occasional", "rare")
    if "frequency" in raw:
        frequency = raw["frequency"].to_numpy()
        for c in range(len(centroids)):
            members = frequency[labels == c]
            if len(members) and np.median(members) <= 1:
                freq[c] = "one-time"
    recency = word("recency_days", "recent", "cooling", "lapsed", reverse=True)
    tenure = word("tenure_days", "long-standing", "established", "new")
    basket = word("avg_order_value", "big baskets", "mid baskets", "small baskets")
    parts = [[p for p in (value[c], freq[c], recency[c]) if p] or [f"segment {c + 1}"] for c in range(len(centroids))]
    for extra in (tenure, basket):
        names = [" · ".join(p) for p in parts]
        if len(set(names)) == len(names):
            break
        for c, name in enumerate(names):
            if names.count(name) > 1 and extra[c]:
                parts[c].append(extra[c])
    names = [" · ".join(p) for p in parts]
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if names.count(name) == 1 else f"{name} ({seen[name]})")
    return unique


def assign(model: SegmentModel, summary: pd.DataFrame, values: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Each customer's nearest saved centroid, without refitting: customer_id, segment,
    segment_name, distance (Euclidean, standardised space) and the raw feature values."""
    levels = {f: _share_levels(model.columns, f) for f in model.features if f in SHARE_FEATURES}
    raw, _ = raw_features(summary, values, model.features, levels=levels)
    x = (transform(raw) - model.mean) / model.scale
    distances = np.sqrt(((x[:, None, :] - model.centroids[None, :, :]) ** 2).sum(axis=2)) if len(x) \
        else np.zeros((0, model.k))
    labels = distances.argmin(axis=1) if len(x) else np.zeros(0, dtype=np.int64)
    return _per_customer(summary, raw, labels, distances[np.arange(len(x)), labels], model.names)


def _per_customer(summary, raw, labels, distance, names) -> pd.DataFrame:
    out = pd.DataFrame({
        "customer_id": summary["customer_id"].to_numpy(),
        "segment": (labels + 1).astype(np.int64),
        "segment_name": np.asarray(names, dtype=object)[labels] if len(labels) else np.array([], dtype=object),
        "distance": np.round(distance, 4),
    })
    out["customer_id"] = out["customer_id"].astype("string")
    out["segment_name"] = out["segment_name"].astype("string")
    for column in raw.columns:
        out[column] = raw[column].to_numpy()
    return out


def profile(assigned: pd.DataFrame, model: SegmentModel, *, categories: pd.DataFrame | None = None,
            silhouettes: pd.Series | None = None) -> pd.DataFrame:
    """One row per segment: segment, segment_name, customers, share, revenue_share, the median
    of each raw feature, top categories (by purchase value in the :mod:`custlens.labels` table
    ``categories``) and the segment's mean silhouette (on the fit's sample; empty when the model
    was only applied)."""
    total_customers = len(assigned)
    total_revenue = assigned["monetary"].sum() if "monetary" in assigned else np.nan
    base = [c for c in model.columns if c in BASE_FEATURES.values()]
    rows = []
    for number, name in enumerate(model.names, start=1):
        part = assigned[assigned["segment"] == number]
        row = {"segment": number, "segment_name": name, "customers": len(part),
               "share": len(part) / total_customers if total_customers else np.nan}
        if "monetary" in assigned:
            row["revenue_share"] = part["monetary"].sum() / total_revenue if total_revenue else np.nan
        for column in base:
            row[f"median_{column}"] = float(part[column].median()) if len(part) else np.nan
        if categories is not None:
            row["top_categories"] = top_shares(categories, part["customer_id"])
        row["silhouette"] = float(silhouettes.get(number - 1, np.nan)) if silhouettes is not None else np.nan
        rows.append(row)
    out = pd.DataFrame(rows)
    out["segment_name"] = out["segment_name"].astype("string")
    if "top_categories" in out:
        out["top_categories"] = out["top_categories"].astype("string")
    out["silhouette"] = out["silhouette"].round(3)
    return out


def crosstab(assigned: pd.DataFrame, rfm_segments: pd.Series, order: list[str]) -> pd.DataFrame:
    """Customers per k-means segment (rows) × RFM segment (columns), with a total."""
    rfm = assigned["customer_id"].map(rfm_segments).astype("string").fillna("Other")
    columns = [c for c in order if c in set(rfm)] + sorted(set(rfm) - set(order))
    table = pd.crosstab(assigned["segment_name"].astype("string"), rfm).reindex(columns=columns, fill_value=0)
    names = assigned.drop_duplicates("segment").sort_values("segment")["segment_name"].astype("string").tolist()
    table = table.reindex(index=names, fill_value=0)
    table["total"] = table.sum(axis=1)
    table.index.name = "segment_name"
    table.columns.name = None
    out = table.reset_index()
    out["segment_name"] = out["segment_name"].astype("string")
    return out


def read_model(path: str) -> SegmentModel:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError as e:
        raise ModelError(f"{path}: no such model file; make one with custlens segment --save-model {path}") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelError(f"{path}: not a custlens segment model (not JSON: {e})") from e
    return SegmentModel.from_json(data, source=path)
