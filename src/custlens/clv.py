"""Predictive CLV: BG/NBD for purchases and P(alive), Gamma-Gamma for spend, by maximum likelihood.

Calibration data per customer, from purchases up to the calibration end (the as-of date),
with same-day purchases merged into one:

- ``x``: repeat purchases = distinct purchase days − 1;
- ``t_x``: days from the first to the last purchase day / unit;
- ``T``: days from the first purchase day to the calibration end / unit;
- ``m``: mean value of the repeat purchase days (each day's net amount; the first day excluded).

The unit is a week by default (``day`` = 1, ``week`` = 7, ``month`` = 30.4375 days).

BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"), per customer:

    LL = lnΓ(r+x) − lnΓ(r) + r·ln α + lnΓ(a+b) + lnΓ(b+x) − lnΓ(b) − lnΓ(a+b+x)
         + ln[ (α+T)^−(r+x) + 1{x>0}·a/(b+x−1)·(α+t_x)^−(r+x) ]
    P(alive) = 1 / (1 + 1{x>0}·a/(b+x−1)·((α+T)/(α+t_x))^(r+x))
    E[Y(t)] = (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) · ₂F₁(r+x, b+x; a+b+x−1; t/(α+T+t))]
              · P(alive)        (expected purchases in the next t units)

Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV"; Fader & Hardie 2013 note 025), on
customers with x ≥ 1 and m > 0:

    LL = lnΓ(px+q) − lnΓ(px) − lnΓ(q) + q·ln γ + (px−1)·ln m + px·ln x − (px+q)·ln(γ + m·x)
    E[M] = (γ + m·x)·p / (px + q − 1)     (γp/(q−1), the population mean, when x = 0)

Both are fitted with scipy (L-BFGS-B, with Nelder–Mead as a fallback) on the logarithms of the
parameters.

CLV over a horizon of H months at an annual discount rate d:

    CLV = Σ_{k=1..H} (E[Y(k months)] − E[Y(k−1 months)]) · E[M] / (1 + d)^(k/12)

When q ≤ 1 the Gamma-Gamma model has no population mean; the mean repeat spend of the
repeat customers stands in for one-purchase customers (and a warning says so).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import CustlensError

UNITS = {"day": 1.0, "week": 7.0, "month": 30.4375}
MONTH_DAYS = 30.4375


class FitError(CustlensError):
    """A model could not be fitted (too little data, no convergence)."""


def calibration(purchases: pd.DataFrame, *, end, unit: str = "week") -> pd.DataFrame:
    """Per customer with a purchase day on or before ``end``: customer_id, x, t_x, T, m (see the
    module docstring), first_day and last_day."""
    end = pd.Timestamp(end).normalize()
    day = purchases["order_date"].dt.normalize().to_numpy().astype("datetime64[D]").astype(np.int64)
    codes, ids = pd.factorize(purchases["customer_id"], sort=True)
    keep = (day <= np.datetime64(end.date(), "D").astype(np.int64)) & (codes >= 0)
    codes, day = codes[keep].astype(np.int64), day[keep]
    amount = purchases["amount"].to_numpy(dtype="float64")[keep]
    # one key per (customer, day), in customer-id then day order: the customer's purchase days
    low = int(day.min()) if len(day) else 0
    span = int(day.max()) - low + 1 if len(day) else 1
    keys, which = np.unique(codes * span + (day - low), return_inverse=True)
    spend = np.bincount(which.ravel(), weights=amount, minlength=len(keys))  # net amount of each day
    customer, day = keys // span, keys % span + low
    starts = np.flatnonzero(np.r_[True, customer[1:] != customer[:-1]]) if len(keys) else np.zeros(0, np.int64)
    count = np.diff(np.r_[starts, len(keys)])
    total = np.add.reduceat(spend, starts) if len(keys) else spend
    return calibration_frame(np.asarray(ids)[customer[starts]], count, day[starts], day[starts + count - 1],
                             total, spend[starts], end=end, unit=unit, dtype=purchases["order_date"].dtype)


def calibration_frame(customer_ids, days, first, last, total, first_spend, *, end, unit: str,
                      dtype="datetime64[s]") -> pd.DataFrame:
    """The calibration table from, per customer (in customer-id order): the number of purchase
    days, the first and last as day numbers since 1970, the net amount of them all and of the
    first. x = days − 1, m = (total − first day's) / x, the difference rounded to 1e-6 so that the
    floating-point residue of amounts that cancel (a return of a repeat purchase) is no spend;
    t_x and T in ``unit``."""
    if unit not in UNITS:
        raise CustlensError(f"--time-unit {unit!r}: use day, week or month")
    end = pd.Timestamp(end).normalize()
    first, last = np.asarray(first, dtype=np.int64), np.asarray(last, dtype=np.int64)
    x = (np.asarray(days) - 1).astype("float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        repeat = np.round(np.asarray(total, dtype="float64") - np.asarray(first_spend, dtype="float64"), 6)
        m = np.where(x > 0, repeat / x, np.nan)
    scale = UNITS[unit]
    as_date = lambda numbers: numbers.astype("datetime64[D]").astype(dtype)  # noqa: E731
    return pd.DataFrame({
        "customer_id": pd.array(np.asarray(customer_ids, dtype=object), dtype="string"),
        "x": x,
        "t_x": (last - first) / scale,
        "T": (np.datetime64(end.date(), "D").astype(np.int64) - first) / scale,
        "m": m,
        "first_day": as_date(first),
        "last_day": as_date(last),
    })


def bgnbd_ll(params, x, t_x, T) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood at ``params`` = (r, alpha, a, b)."""
    return _bgnbd_of_x(params, x) + _bgnbd_rest(params, x, t_x, T)


def _bgnbd_of_x(params, x) -> np.ndarray:
    """The terms of the BG/NBD log-likelihood that depend on x alone."""
    from scipy.special import gammaln

    r, alpha, a, b = params
    return (gammaln(r + x) - gammaln(r) + r * np.log(alpha)
            + gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x))


def _bgnbd_rest(params, x, t_x, T) -> np.ndarray:
    """ln[(α+T)^−(r+x) + 1{x>0}·a/(b+x−1)·(α+t_x)^−(r+x)]."""
    return np.logaddexp(*_bgnbd_rest_terms(params, x, t_x, T)[:2])


def _bgnbd_rest_terms(params, x, t_x, T) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The logarithms of the two terms of :func:`_bgnbd_rest`'s sum (the second −inf for x = 0),
    and ln(α+T), ln(α+t_x)."""
    r, alpha, a, b = params
    log_alpha_T, log_alpha_t_x = np.log(alpha + T), np.log(alpha + t_x)
    log_a = -(r + x) * log_alpha_T
    with np.errstate(divide="ignore", invalid="ignore"):
        log_b = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * log_alpha_t_x, -np.inf)
    return log_a, log_b, log_alpha_T, log_alpha_t_x


def _bgnbd_total_and_gradient(x, t_x, T):
    """params → (Σ ln L, its gradient in (r, α, a, b)), for L-BFGS-B with exact derivatives instead
    of four extra evaluations per step for finite differences. With A and B the two terms of
    :func:`_bgnbd_rest` and w_A, w_B their shares of A + B:
    ∂/∂r = ψ(r+x) − ψ(r) + ln α − w_A·ln(α+T) − w_B·ln(α+t_x);
    ∂/∂α = r/α − (r+x)·(w_A/(α+T) + w_B/(α+t_x));
    ∂/∂a = ψ(a+b) − ψ(a+b+x) + w_B/a;
    ∂/∂b = ψ(a+b) + ψ(b+x) − ψ(b) − ψ(a+b+x) − w_B/(b+x−1).
    The terms of x alone are summed once per distinct x, as in :func:`_total`."""
    from scipy.special import digamma

    values, counts = np.unique(x, return_counts=True)
    repeat = x > 0

    def total_and_gradient(params):
        r, alpha, a, b = params
        # at extreme parameters some terms overflow: the optimiser is told so by the non-finite
        # result (:func:`_maximise`), the user is not bothered with numpy's warnings
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            log_a, log_b, log_alpha_T, log_alpha_t_x = _bgnbd_rest_terms(params, x, t_x, T)
            rest = np.logaddexp(log_a, log_b)
            w_a, w_b = np.exp(log_a - rest), np.exp(log_b - rest)
            total = float(counts @ _bgnbd_of_x(params, values) + rest.sum())
            psi_ab, psi_abx = digamma(a + b), counts @ digamma(a + b + values)
            gradient = np.array([
                counts @ digamma(r + values) - len(x) * (digamma(r) - np.log(alpha))
                - (w_a @ log_alpha_T + w_b @ log_alpha_t_x),
                len(x) * r / alpha - (r + x) @ (w_a / (alpha + T) + w_b / (alpha + t_x)),
                len(x) * psi_ab - psi_abx + w_b.sum() / a,
                len(x) * (psi_ab - digamma(b)) + counts @ digamma(b + values) - psi_abx
                - w_b[repeat] @ (1 / (b + x[repeat] - 1)),
            ])
        return total, gradient

    return total_and_gradient


def gamma_gamma_ll(params, x, m) -> np.ndarray:
    """Per-customer Gamma-Gamma log-likelihood at ``params`` = (p, q, gamma)."""
    return _gamma_gamma_of_x(params, x) + _gamma_gamma_rest(params, x, m, np.log(x), np.log(m))


def _gamma_gamma_of_x(params, x) -> np.ndarray:
    """lnΓ(px+q) − lnΓ(px) − lnΓ(q) + q·ln γ: the terms that depend on x alone."""
    from scipy.special import gammaln

    p, q, g = params
    return gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(g)


def _gamma_gamma_rest(params, x, m, log_x, log_m) -> np.ndarray:
    """(px−1)·ln m + px·ln x − (px+q)·ln(γ + m·x)."""
    p, q, g = params
    return (p * x - 1) * log_m + p * x * log_x - (p * x + q) * np.log(g + m * x)


def _total(of_x, rest, x: np.ndarray):
    """Σ over customers of of_x(params, x) + rest(params): the terms of x alone are computed once
    per distinct x (purchase counts repeat: a few hundred values for a million customers)."""
    values, counts = np.unique(x, return_counts=True)
    return lambda params: float(counts @ of_x(params, values) + rest(params).sum())


@dataclass
class Fitted:
    params: dict[str, float]
    log_likelihood: float
    converged: bool
    iterations: int
    customers: int
    message: str = ""


def _maximise(negative_ll, start: np.ndarray, names: list[str], customers: int, what: str,
              negative_gradient=None) -> Fitted:
    """Minimise ``negative_ll`` over the logarithms of the parameters: L-BFGS-B (fast; with
    ``negative_gradient``, params → (−Σ ln L, its gradient), on exact derivatives, else on finite
    differences), and Nelder–Mead from its result when L-BFGS-B does not report success."""
    from scipy.optimize import minimize

    def objective(log_params):
        value = negative_ll(np.exp(log_params))
        return value if np.isfinite(value) else 1e300

    def objective_and_gradient(log_params):
        params = np.exp(log_params)
        value, gradient = negative_gradient(params)
        if not (np.isfinite(value) and np.all(np.isfinite(gradient))):
            return 1e300, np.zeros_like(params)
        return value, gradient * params  # d/d(ln θ) = θ·d/dθ

    if negative_gradient is None:
        best = minimize(objective, np.log(start), method="L-BFGS-B")
    else:
        best = minimize(objective_and_gradient, np.log(start), method="L-BFGS-B", jac=True)
    iterations = int(best.nit)
    if not best.success or not np.all(np.isfinite(best.x)):
        retry = minimize(objective, best.x if np.all(np.isfinite(best.x)) else np.log(start), method="Nelder-Mead",
                         options={"maxiter": 10_000, "maxfev": 20_000, "xatol": 1e-9, "fatol": 1e-9})
        iterations += int(retry.nit)
        if retry.fun <= best.fun or not np.all(np.isfinite(best.x)):
            best = retry
    if not np.all(np.isfinite(best.x)) or best.fun >= 1e299:
        raise FitError(f"the {what} model did not fit ({best.message}); there may be too few repeat customers")
    params = dict(zip(names, np.exp(best.x).tolist()))
    runaway = [f"{k} = {v:.3g}" for k, v in params.items() if not 1e-6 < v < 1e6]
    converged, message = bool(best.success), str(best.message)
    if runaway:
        converged, message = False, f"parameters ran off ({', '.join(runaway)})"
    return Fitted(params=params, log_likelihood=float(-best.fun), converged=converged, iterations=iterations,
                  customers=customers, message=message)


def fit_bgnbd(cal: pd.DataFrame) -> Fitted:
    """Maximum-likelihood BG/NBD on calibration data (x, t_x, T)."""
    x, t_x, T = (cal[c].to_numpy(dtype="float64") for c in ("x", "t_x", "T"))
    if len(x) < 2 or (x > 0).sum() < 2:
        raise FitError(f"BG/NBD needs customers who bought again: {int((x > 0).sum())} of {len(x)} did")
    total = _total(_bgnbd_of_x, lambda p: _bgnbd_rest(p, x, t_x, T), x)  # = bgnbd_ll(p, x, t_x, T).sum()
    with_gradient = _bgnbd_total_and_gradient(x, t_x, T)

    def negative(params):
        value, gradient = with_gradient(params)
        return -value, -gradient

    return _maximise(lambda p: -total(p), np.array([1.0, 1.0, 1.0, 1.0]), ["r", "alpha", "a", "b"], len(x), "BG/NBD",
                     negative_gradient=negative)


def fit_gamma_gamma(cal: pd.DataFrame) -> Fitted:
    """Maximum-likelihood Gamma-Gamma on the customers with x ≥ 1 and a positive mean repeat spend."""
    use = cal[(cal["x"] > 0) & (cal["m"] > 0)]
    x, m = use["x"].to_numpy(dtype="float64"), use["m"].to_numpy(dtype="float64")
    if len(x) < 3:
        raise FitError(f"Gamma-Gamma needs customers with repeat purchases of positive value: {len(x)} have them")
    log_x, log_m = np.log(x), np.log(m)
    total = _total(_gamma_gamma_of_x, lambda p: _gamma_gamma_rest(p, x, m, log_x, log_m), x)
    return _maximise(lambda p: -total(p), np.array([1.0, 1.0, 1.0]), ["p", "q", "gamma"], len(x), "Gamma-Gamma")


def p_alive(params: dict, x, t_x, T) -> np.ndarray:
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    x, t_x, T = (np.asarray(v, dtype="float64") for v in (x, t_x, T))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        odds = np.where(x > 0, a / np.maximum(b + x - 1, 1e-300) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0)
    return 1.0 / (1.0 + odds)


def expected_purchases(params: dict, t, x, t_x, T) -> np.ndarray:
    """E[number of purchases in the next ``t`` units | x, t_x, T] (BG/NBD): the purchases of a
    customer still alive (:func:`_purchases_if_alive`) × P(alive)."""
    x, t_x, T = (np.asarray(v, dtype="float64") for v in (x, t_x, T))
    return _purchases_if_alive(params, t, x, T) * p_alive(params, x, t_x, T)


def _purchases_if_alive(params: dict, t, x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """(a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) · ₂F₁(r+x, b+x; a+b+x−1; t/(α+T+t))]: a
    function of (x, T) alone, so :func:`clv` computes it once per distinct pair."""
    from scipy.special import hyp2f1

    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    if t == 0:
        return np.zeros_like(x)
    z = t / (alpha + T + t)
    hyp = hyp2f1(r + x, b + x, a + b + x - 1, z)
    head = (a + b + x - 1) / (a - 1)
    body = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp
    return head * body


def expected_spend(params: dict, x, m) -> np.ndarray:
    """E[mean purchase value | x, m] (Gamma-Gamma); the population mean γp/(q−1) when x = 0.
    When q ≤ 1 the model has no population mean (spend varies too much between customers):
    the mean of m over the repeat customers stands in for it."""
    p, q, g = (params[k] for k in ("p", "q", "gamma"))
    x = np.asarray(x, dtype="float64")
    m = np.nan_to_num(np.asarray(m, dtype="float64"), nan=0.0)
    repeat = (x > 0) & (m > 0)
    population = g * p / (q - 1) if q > 1 else (float(m[repeat].mean()) if repeat.any() else np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        own = (g + m * x) * p / (p * x + q - 1)
    return np.where((x > 0) & (m > 0), own, population)


def clv(bg: dict, gg: dict, cal: pd.DataFrame, *, horizon_months: int = 12, discount: float = 0.10,
        unit: str = "week") -> np.ndarray:
    """Σ over months k = 1..H of the expected purchases in month k × E[M] / (1 + d)^(k/12)."""
    per_month = MONTH_DAYS / UNITS[unit]
    x, t_x, T = (cal[c].to_numpy(dtype="float64") for c in ("x", "t_x", "T"))
    spend = expected_spend(gg, x, cal["m"].to_numpy(dtype="float64"))
    total = np.zeros(len(cal))
    previous = np.zeros(len(cal))
    alive = p_alive(bg, x, t_x, T)
    # the purchases if alive depend on (x, T) alone (bench data at 1e7: 15,127 pairs, 485,455 customers)
    pairs, which = np.unique(x + 1j * T, return_inverse=True)
    for k in range(1, horizon_months + 1):
        upto = _purchases_if_alive(bg, k * per_month, pairs.real, pairs.imag)[which] * alive
        total += (upto - previous) * spend / (1 + discount) ** (k / 12)
        previous = upto
    return total


@dataclass
class Model:
    bgnbd: Fitted
    gamma_gamma: Fitted
    unit: str
    calibration_end: pd.Timestamp
    spend_correlation: float  # Pearson correlation of x and m among repeat customers

    def params(self) -> dict:
        out = {**self.bgnbd.params, "log_likelihood": self.bgnbd.log_likelihood, "converged": bool(self.bgnbd.converged),
               "iterations": self.bgnbd.iterations, "customers": self.bgnbd.customers}
        out.update(self.gamma_gamma.params)
        out.update({"gg_log_likelihood": self.gamma_gamma.log_likelihood, "gg_converged": bool(self.gamma_gamma.converged),
                    "gg_customers": self.gamma_gamma.customers, "spend_frequency_correlation": self.spend_correlation,
                    "time_unit": self.unit, "calibration_end": f"{self.calibration_end:%Y-%m-%d}"})
        return out


def fit(purchases: pd.DataFrame, *, end, unit: str = "week") -> tuple[Model, pd.DataFrame]:
    """Fit both models on the purchases up to ``end``; returns the model and the calibration data."""
    cal = calibration(purchases, end=end, unit=unit)
    return fit_calibration(cal, end=end, unit=unit), cal


def fit_calibration(cal: pd.DataFrame, *, end, unit: str = "week") -> Model:
    """Both models fitted on a calibration table (:func:`calibration`)."""
    if cal.empty:
        raise FitError(f"no purchases on or before {pd.Timestamp(end):%Y-%m-%d} to fit on: choose a later "
                       "--as-of or a shorter --holdout")
    bg = fit_bgnbd(cal)
    gg = fit_gamma_gamma(cal)
    repeat = cal[(cal["x"] > 0) & (cal["m"] > 0)]
    corr = float(np.corrcoef(repeat["x"], repeat["m"])[0, 1]) if len(repeat) > 2 else float("nan")
    return Model(bgnbd=bg, gamma_gamma=gg, unit=unit, calibration_end=pd.Timestamp(end).normalize(),
                 spend_correlation=corr)


def predict(model: Model, cal: pd.DataFrame, *, horizon_months: int = 12, discount: float = 0.10) -> pd.DataFrame:
    """Per customer: customer_id, frequency (x), recency (t_x), T, p_alive, expected_purchases
    (in the horizon), expected_aov, clv, rank (1 = highest CLV; ties by customer id)."""
    bg, gg = model.bgnbd.params, model.gamma_gamma.params
    x, t_x, T = (cal[c].to_numpy(dtype="float64") for c in ("x", "t_x", "T"))
    horizon = horizon_months * MONTH_DAYS / UNITS[model.unit]
    out = pd.DataFrame({
        "customer_id": cal["customer_id"].astype("string").to_numpy(),
        "frequency": x.astype(np.int64),
        "recency": np.round(t_x, 4),
        "T": np.round(T, 4),
        "p_alive": np.round(p_alive(bg, x, t_x, T), 6),
        "expected_purchases": np.round(expected_purchases(bg, horizon, x, t_x, T), 6),
        "expected_aov": np.round(expected_spend(gg, x, cal["m"].to_numpy(dtype="float64")), 2),
        "clv": np.round(clv(bg, gg, cal, horizon_months=horizon_months, discount=discount, unit=model.unit), 2),
    })
    out["customer_id"] = out["customer_id"].astype("string")
    order = out.sort_values(["clv", "customer_id"], ascending=[False, True], kind="stable").index
    out.loc[order, "rank"] = np.arange(1, len(out) + 1)
    out["rank"] = out["rank"].astype(np.int64)
    return out.sort_values("rank", kind="stable", ignore_index=True)


def holdout(purchases: pd.DataFrame, *, end, holdout_end, unit: str = "week", max_group: int = 7):
    """Fit on purchases up to ``end``, predict purchase days in (end, holdout_end] and compare.

    Returns ``(model, table, summary)`` of :func:`holdout_table`.
    """
    model, cal = fit(purchases, end=end, unit=unit)
    end, holdout_end = pd.Timestamp(end).normalize(), pd.Timestamp(holdout_end).normalize()
    actual = purchase_days(purchases, cal["customer_id"], after=end, end=holdout_end)
    return (model, *holdout_table(model, cal, actual, length_days=(holdout_end - end).days, max_group=max_group))


def purchase_days(purchases: pd.DataFrame, customer_ids: pd.Series, *, after, end) -> np.ndarray:
    """For each of ``customer_ids``, the number of days in (after, end] with a line of theirs (a
    float array, 0 for none): the holdout's actual purchases."""
    days = purchases["order_date"].dt.normalize()
    inside = ((days > pd.Timestamp(after)) & (days <= pd.Timestamp(end))).to_numpy()
    later = purchases[inside].assign(day=days[inside]).drop_duplicates(["customer_id", "day"])
    return customer_ids.map(later.groupby("customer_id").size()).fillna(0).to_numpy(dtype="float64")


def holdout_table(model: Model, cal: pd.DataFrame, actual: np.ndarray, *, length_days: int, max_group: int = 7):
    """Predicted against ``actual`` purchase days in the holdout (one per calibration customer, in
    ``cal``'s order). Returns ``(table, summary)``: table per calibration frequency 0..6 and "7+"
    (customers, actual mean, predicted mean) plus an "all" row; summary holds mae (mean absolute
    error per customer), total_actual and total_predicted."""
    length = length_days / UNITS[model.unit]
    predicted = expected_purchases(model.bgnbd.params, length, cal["x"], cal["t_x"], cal["T"])
    group = np.minimum(cal["x"].to_numpy(), max_group).astype(int)
    labels = np.where(group >= max_group, f"{max_group}+", group.astype(str))
    frame = pd.DataFrame({"frequency": labels, "order": group, "actual": actual, "predicted": predicted})
    table = frame.groupby(["order", "frequency"], sort=True).agg(
        customers=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean")).reset_index()
    table = table.drop(columns="order")
    table.loc[len(table)] = ["all", len(frame), frame["actual"].mean(), frame["predicted"].mean()]
    table["frequency"] = table["frequency"].astype("string")
    table["actual"] = table["actual"].astype(float).round(4)
    table["predicted"] = table["predicted"].astype(float).round(4)
    summary = {"mae": float(np.abs(actual - predicted).mean()), "total_actual": float(actual.sum()),
               "total_predicted": float(predicted.sum()), "holdout_length": length}
    return table, summary
