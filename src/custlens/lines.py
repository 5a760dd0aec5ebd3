"""What the reports read of the purchase lines beyond the per-customer summary, from either engine.

A report gets the summary from :func:`custlens.cli.load_summary`; some also read the lines: the
value per category, the co-purchase baskets of the win-back offers, the cohorts, the kpi periods,
the BG/NBD calibration table, the summary at an earlier date. :class:`Lines` gives each of these
from the purchases in memory (the pandas engine) or from DuckDB's aggregates of the files (the
DuckDB engine's :class:`~custlens.engine.Result` of the same summary), with the same values from
both (tests/test_engine*.py, tests/test_report.py). The rules that read them live in the modules
of each report, once for both engines.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import pandas as pd

from .schema import LABEL_ROLES


@dataclass
class Lines:
    """The purchase lines up to ``as_of``: ``purchases`` in memory (pandas), or ``fast``, the
    DuckDB engine's result whose files it aggregates."""

    as_of: pd.Timestamp
    purchases: pd.DataFrame | None = None
    fast: object = None
    _products: object = field(default=None, repr=False)  # engine.ProductLines, made once
    _periods: dict = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, purchases, fast, summary) -> Lines:
        """The lines behind a summary: ``purchases`` on the pandas engine, ``fast`` on DuckDB."""
        return cls(as_of=pd.Timestamp(summary.as_of), purchases=purchases, fast=fast)

    def span(self) -> tuple[float, pd.Timestamp, pd.Timestamp]:
        """(net amount of the lines up to the as-of date, first and last day of any line)."""
        if self.fast is not None:
            from .engine import line_span

            return line_span(self.fast)
        days = self.purchases["order_date"].dt.normalize()
        revenue = float(self.purchases.loc[(days <= self.as_of).to_numpy(), "amount"].sum())
        return revenue, days.min(), days.max()

    def label_values(self, roles=LABEL_ROLES) -> dict[str, pd.DataFrame]:
        """The :mod:`custlens.labels` table of each of ``roles`` the purchases have."""
        if self.fast is not None:
            from .engine import value_by_label

            return value_by_label(self.fast, roles)
        from .labels import value_by_label

        return {role: value_by_label(self.purchases, role, self.as_of) for role in roles if role in self.purchases}

    def margins(self) -> pd.Series:
        """:func:`custlens.pareto.margins`: per customer, Σ(amount − cost) up to the as-of date."""
        if self.fast is not None:
            from .engine import margins

            return margins(self.fast)
        from .pareto import margins

        return margins(self.purchases, self.as_of)

    def read_products(self) -> None:
        """On the DuckDB engine, the table of the lines with their products (a pass over the files,
        with a progress bar of its own): before a spinner, so that the two do not overlap."""
        if self.fast is not None and self._products is None:
            from .engine import product_lines

            self._products = product_lines(self.fast)

    def basket(self, *, required: bool = False):
        """The co-purchase :class:`~custlens.recommend.Basket` of the lines up to the as-of date;
        without a product column None, or with ``required`` the error saying which to map.
        Raises :class:`~custlens.recommend.NoProductLines` when no line has a product."""
        from .recommend import baskets, purchase_basket

        self.read_products()
        lines = self._products
        if lines is None:
            return (baskets if required else purchase_basket)(self.purchases, as_of=self.as_of)
        from .engine import basket

        return basket(lines) if required or lines.key else None

    def winback_details(self, candidates) -> tuple:
        """For :func:`custlens.lifecycle.winback` of ``candidates``: (the top offer per customer or
        None without products, their favourite categories and last products or None to take them
        from the purchases, a note when the product column teaches nothing)."""
        from . import lifecycle
        from .recommend import NoProductLines, top_offers

        note = None
        try:
            basket = self.basket()
        except NoProductLines as e:  # the list does not need them: a cron job still gets it
            basket, note = None, f"{e}: the suggestions name no product"
        lines = self._products
        favourites = last_products = None
        if lines is not None:
            from .engine import winback_lines

            by_category, last_day = winback_lines(lines, candidates)
            favourites = lifecycle.favourite(by_category, "category")
            last_products = lifecycle.last_product(last_day)
        return top_offers(basket, candidates), favourites, last_products, note

    def cohorts(self, period: str = "month", metric: str = "retention") -> pd.DataFrame:
        """The matrix of ``custlens cohorts``."""
        from .cohorts import build_matrix, cohort_matrix

        if self.fast is None:
            return cohort_matrix(self.purchases, period=period, metric=metric, as_of=self.as_of)
        from .engine import cohort_counts

        return build_matrix(cohort_counts(self.fast, period=period, metric=metric), period=period, metric=metric,
                            as_of=self.as_of)

    def periods(self, before, after) -> tuple[list[str], tuple]:
        """(the warnings on the periods, the two periods' :class:`~custlens.kpi.PeriodData`),
        computed once."""
        from . import kpi

        if (before, after) not in self._periods:
            if self.fast is not None:
                from .engine import kpi_periods

                span, *data = kpi_periods(self.fast, before, after)
                found = kpi.check_span(before, after, *span), tuple(data)
            else:
                found = kpi.check_periods(before, after, self.purchases), kpi.both_periods(self.purchases, before, after)
            self._periods[(before, after)] = found
        return self._periods[(before, after)]

    def calibration(self, day, *, unit: str) -> pd.DataFrame:
        """:func:`custlens.clv.calibration` of the lines up to ``day``."""
        if self.fast is None:
            from .clv import calibration

            return calibration(self.purchases, end=day, unit=unit)
        from .engine import calibration_table

        return calibration_table(self.fast, unit=unit, end=pd.Timestamp(day).date())

    @contextlib.contextmanager
    def summary_at(self, day):
        """The summary of the same lines as of another ``day`` (for the stages then), valid inside
        the block (:func:`custlens.engine.summary_at`)."""
        if self.fast is None:
            from .summary import customers

            yield customers(self.purchases, as_of=day)
            return
        from .engine import summary_at

        with summary_at(self.fast, day) as then:
            yield then
