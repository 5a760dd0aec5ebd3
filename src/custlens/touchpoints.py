"""Touchpoint quality: CSAT, NPS, open share and resolution time per channel, touchpoint or type,
and whether customers spent more or less after a contact.

Per group (and per period with ``period``):

- ``contacts``: interactions; ``customers``: distinct customers;
- ``csat_share``: share of CSAT answers that are 4 or 5; ``csat_mean``; ``csat_n`` answers;
- ``promoters`` (9–10), ``passives`` (7–8), ``detractors`` (0–6), ``nps`` = 100 × (promoters −
  detractors) / ``nps_n`` answers;
- ``share_open``: share of interactions whose status is open (open, new, pending, открыто…);
- ``median_resolution_days``: median days from the interaction to its closed date, when the
  file has one;
- with purchases, over the contacts whose 90 days after fall inside the data: ``spend_n``,
  ``spend_before`` and ``spend_after`` (mean net spend of the customer in the 90 days before the
  contact day and the 90 days after it), ``share_spent_more``;
- ``small_n``: fewer than ``small`` (30) contacts, or answers for the scores shown: read those
  rows with care; the table is in group order, never ranked.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import CustlensError
from .schema import is_open_status

BY = ("channel", "touchpoint", "type")
PERIODS = {"week": "W-SUN", "month": "M", "quarter": "Q"}


def quality(interactions: pd.DataFrame, *, by: str = "channel", period: str | None = None,
            purchases: pd.DataFrame | None = None, window_days: int = 90, small: int = 30) -> pd.DataFrame:
    """One row per group (and period); see the module docstring."""
    if by not in interactions:
        raise CustlensError(f"--by {by}: the interactions have no {by} column; they have "
                            f"{', '.join(interactions.columns)}")
    frame = interactions.copy()
    frame["group"] = frame[by].astype("string").fillna("(empty)")
    keys = ["group"]
    if period is not None:
        if period not in PERIODS:
            raise CustlensError(f"--period {period!r}: use week, month or quarter")
        frame["period"] = frame["date"].dt.to_period(PERIODS[period]).astype(str)
        keys = ["period", "group"]
    if purchases is not None:
        frame = frame.join(spend_around(frame, purchases, window_days=window_days))
    rows = []
    for key, part in frame.groupby(keys, sort=True, observed=True):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(keys, key))
        row.update(_metrics(part))
        if purchases is not None:
            valid = part["spend_after"].notna()
            row["spend_n"] = int(valid.sum())
            row["spend_before"] = round(float(part.loc[valid, "spend_before"].mean()), 2) if valid.any() else np.nan
            row["spend_after"] = round(float(part.loc[valid, "spend_after"].mean()), 2) if valid.any() else np.nan
            row["share_spent_more"] = float((part.loc[valid, "spend_after"] > part.loc[valid, "spend_before"]).mean()) \
                if valid.any() else np.nan
        row["small_n"] = bool(row["contacts"] < small or 0 < row.get("csat_n", 0) < small
                              or 0 < row.get("nps_n", 0) < small)
        rows.append(row)
    out = pd.DataFrame(rows)
    for column in keys:
        out[column] = out[column].astype("string")
    return out.rename(columns={"group": by})


def _metrics(part: pd.DataFrame) -> dict:
    row = {"contacts": len(part), "customers": int(part["customer_id"].nunique())}
    if "csat" in part:
        csat = part["csat"].dropna()
        row.update(csat_share=float((csat >= 4).mean()) if len(csat) else np.nan,
                   csat_mean=round(float(csat.mean()), 3) if len(csat) else np.nan, csat_n=len(csat))
    if "nps" in part:
        nps = part["nps"].dropna()
        promoters, detractors = int((nps >= 9).sum()), int((nps <= 6).sum())
        row.update(promoters=promoters, passives=len(nps) - promoters - detractors, detractors=detractors,
                   nps=round(100 * (promoters - detractors) / len(nps), 1) if len(nps) else np.nan, nps_n=len(nps))
    if "status" in part:
        row["share_open"] = float(part["status"].map(is_open_status).mean())
    if "closed_date" in part:
        days = (part["closed_date"] - part["date"]).dt.total_seconds() / 86400
        days = days[days >= 0]
        row["median_resolution_days"] = round(float(days.median()), 2) if len(days) else np.nan
    return row


def spend_around(interactions: pd.DataFrame, purchases: pd.DataFrame, *, window_days: int = 90) -> pd.DataFrame:
    """Per interaction: the customer's net spend in the ``window_days`` before the contact day
    (day − window … day − 1) and after it (day + 1 … day + window); after is empty when that
    window runs past the last purchase day in the data."""
    lines = purchases[["customer_id", "order_date", "amount"]].copy()
    lines["day"] = lines["order_date"].dt.normalize()
    last_day = lines["day"].max()
    contact_day = interactions["date"].dt.normalize()
    pairs = pd.DataFrame({"row": interactions.index, "customer_id": interactions["customer_id"].astype("string"),
                          "contact": contact_day.to_numpy()})
    joined = pairs.merge(lines[["customer_id", "day", "amount"]].assign(
        customer_id=lines["customer_id"].astype("string")), on="customer_id", how="left")
    offset = (joined["day"] - joined["contact"]).dt.days
    window = pd.Timedelta(days=window_days)
    before = joined["amount"].where((offset >= -window_days) & (offset <= -1), 0.0)
    after = joined["amount"].where((offset >= 1) & (offset <= window_days), 0.0)
    sums = pd.DataFrame({"row": joined["row"], "spend_before": before.fillna(0.0), "spend_after": after.fillna(0.0)})
    sums = sums.groupby("row").sum()
    complete = (contact_day + window <= last_day).to_numpy()
    sums = sums.reindex(interactions.index)
    sums.loc[~complete, "spend_after"] = np.nan
    return sums
