"""The report: every section as the same tables the CLI prints, with charts, as one HTML file or
one XLSX workbook.

Each section holds tables built by the library functions the commands use (so a sheet of the
workbook equals that command's CSV) and charts drawn with matplotlib as inline SVG: vector,
sharp when printed, text drawn as paths (Cyrillic needs no font on the viewer's machine), no
script, no network at view time.
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import CustlensError

PALETTE = ["#2f5d8a", "#e07b39", "#5a9e6f", "#b0413e", "#8c6bb1", "#c9a227", "#4b9fb5", "#7f7f7f", "#d17fa8",
           "#6b8e23", "#a0522d"]


@dataclass
class Section:
    id: str
    title: str
    text: list[str] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # sheet/table name → table
    charts: list[str] = field(default_factory=list)  # SVG documents


def build(lines, summary, *, load_notes: list[str] | None = None,
          contacts: pd.DataFrame | None = None, interactions: pd.DataFrame | None = None,
          periods=None, config: dict | None = None, k="auto", seed: int = 0, charts: bool = True) -> list[Section]:
    """All sections, in reading order; KPI and touchpoint sections only when periods and
    interactions are given. ``lines``: the :class:`custlens.lines.Lines` behind the summary."""
    from . import kpi as kpi_mod
    from . import lifecycle as lifecycle_mod
    from . import pareto as pareto_mod
    from . import rfm as rfm_mod
    from . import segments as segments_mod
    from . import touchpoints as touchpoints_mod

    config = config or {}
    table = summary.customers
    sections = []

    # Overview
    overview = overview_table(lines, summary)
    section = Section("overview", "Overview", tables={"Overview": overview})
    section.text = [f"Data-quality notes from loading: {note}" for note in (load_notes or [])]
    sections.append(section)

    # Pareto
    ranked = pareto_mod.rank(table, pareto_mod.customer_values(table), name="revenue")
    pareto_summary, headline = pareto_mod.summarize(ranked, name="revenue")
    values = lines.label_values()
    portrait = pareto_mod.portrait(table, ranked, values=values, contacts=contacts)
    section = Section("pareto", "Key clients (Pareto 80/20)", tables={"Pareto": pareto_summary,
                                                                       "Key-client portrait": portrait})
    section.text = pareto_mod.headline_text(headline)
    if charts:
        section.charts.append(lorenz_chart(ranked))
    sections.append(section)

    # RFM
    settings = rfm_mod.Settings.from_config(config)
    scored = settings.apply(table)
    rfm_summary = rfm_mod.summarize(scored, rules=settings.rules)
    section = Section("rfm", "RFM segments", tables={"RFM": rfm_summary})
    if charts:
        section.charts.append(rf_heatmap(scored, "customers"))
        section.charts.append(rf_heatmap(scored, "revenue"))
        section.charts.append(bar_chart(rfm_summary["segment"], rfm_summary["customers"], "Customers per RFM segment",
                                        "customers"))
    sections.append(section)

    # k-means segments (a data set too small for them gets a note instead)
    section = Section("segments", "Behavioural segments (k-means)")
    try:
        fitted = segments_mod.fit(table, values, k=k, seed=seed)
    except CustlensError as e:
        section.text = [f"No segments: {e}"]
    else:
        profile = segments_mod.profile(fitted.customers, fitted.model, categories=values.get("category"),
                                       silhouettes=fitted.sample_silhouettes)
        section.tables = {"Segments": profile}
        section.text = [fitted.reason]
        if charts:
            section.charts.append(bar_chart(profile["segment_name"], profile["revenue_share"] * 100,
                                            "Share of revenue per segment", "% of revenue"))
    sections.append(section)

    # Lifecycle and win-back
    thresholds = lifecycle_mod.Thresholds.from_config(config)
    stages = lifecycle_mod.stages(summary, contacts=contacts, thresholds=thresholds)
    stage_summary = lifecycle_mod.summarize(stages, as_of=summary.as_of)
    section = Section("lifecycle", "Lifecycle stages", tables={"Lifecycle": stage_summary})
    if charts:
        section.charts.append(bar_chart(stage_summary["stage"], stage_summary["customers"], "Customers per stage",
                                        "customers"))
    sections.append(section)
    offers, favourites, last_products, note = lines.winback_details(stages.loc[stages["stage"] == "lapsed",
                                                                              "customer_id"])
    winback = lifecycle_mod.winback(stages, lines.purchases, as_of=summary.as_of, contacts=contacts,
                                    rfm_segments=scored.set_index("customer_id")["segment"], offers=offers,
                                    favourites=favourites, last_products=last_products).head(20)
    sections.append(Section("winback", "Win-back list (top 20)", tables={"Win-back": winback},
                            text=[f"{len(winback)} lapsed customers with the most value at risk; "
                                  "custlens lapsed gives the whole list", *([note] if note else [])]))

    # Cohorts
    matrix = lines.cohorts()
    section = Section("cohorts", "Cohort retention (by first-order month)", tables={"Cohorts": matrix})
    if charts:
        section.charts.append(cohort_heatmap(matrix))
    sections.append(section)

    # Before / after
    if periods is not None:
        before, after = periods
        comparison = kpi_mod.compare_periods(*lines.periods(before, after)[1], interactions=interactions, seed=seed)
        sections.append(Section("kpi", f"Before ({before}) and after ({after})", tables={"KPI": comparison},
                                text=["Verdicts: up or down when p < 0.05; see the README for each test."]))

    # Touchpoints
    if interactions is not None:
        by = "touchpoint" if "touchpoint" in interactions else "channel"
        quality = touchpoints_mod.quality(interactions, by=by)
        section = Section("touchpoints", f"Touchpoints: CSAT and NPS by {by}", tables={"Touchpoints": quality})
        if charts and "csat_share" in quality:
            section.charts.append(bar_chart(quality[by], quality["csat_share"] * 100, "CSAT: share of 4–5 answers",
                                            "% satisfied"))
        sections.append(section)
    return sections


def overview_table(lines, summary) -> pd.DataFrame:
    """measure, value: customers, revenue (net, up to the as-of date), orders, AOV, repeat rate,
    first and last day of any line, as-of."""
    customers = summary.customers
    revenue, first_day, last_day = lines.span()
    orders = int(customers["frequency"].sum())
    rows = [("customers", len(customers)), ("revenue", round(revenue, 2)), ("orders", orders),
            ("avg_order_value", round(revenue / orders, 2) if orders else np.nan),
            ("repeat_customer_share", float((customers["frequency"] >= 2).mean()) if len(customers) else np.nan),
            ("first_day", f"{first_day:%Y-%m-%d}"), ("last_day", f"{last_day:%Y-%m-%d}"),
            ("as_of", f"{summary.as_of:%Y-%m-%d}")]
    return pd.DataFrame({"measure": pd.array([r[0] for r in rows], dtype="string"),
                         "value": pd.Series([r[1] for r in rows], dtype=object)})


# --- charts ----------------------------------------------------------------------------------

def _figure(width=7.0, height=3.6):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "path", "font.size": 9, "axes.spines.top": False,
                         "axes.spines.right": False, "svg.hashsalt": "custlens"})
    return plt.subplots(figsize=(width, height))


def _svg(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    fig.tight_layout()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": "custlens"})
    plt.close(fig)
    text = buffer.getvalue()
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text[text.index("<svg"):], flags=re.S)
    return text


def lorenz_chart(ranked: pd.DataFrame) -> str:
    """Cumulative share of revenue against the share of customers, best first; 80% marked."""
    positive = ranked[ranked["abc_class"] != "none"]
    fig, ax = _figure()
    n = len(ranked)
    x = np.r_[0, np.arange(1, len(positive) + 1) / n * 100]
    y = np.r_[0, positive["cumulative_share"].to_numpy() * 100]
    ax.plot(x, y, color=PALETTE[0], linewidth=2, label="customers, best first")
    ax.plot([0, 100], [0, 100], color="#999999", linestyle="--", linewidth=1, label="all equal")
    key = int(positive["key_client"].sum())
    if key:
        kx, ky = key / n * 100, float(positive["cumulative_share"].iloc[key - 1] * 100)
        ax.scatter([kx], [ky], color=PALETTE[1], zorder=3)
        ax.annotate(f"{key:,} customers ({kx:.1f}%) → {ky:.0f}% of revenue", (kx, ky), xytext=(10, -18),
                    textcoords="offset points", fontsize=9)
    ax.set_xlabel("% of customers")
    ax.set_ylabel("% of revenue")
    ax.set_title("Pareto / Lorenz curve")
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 102)
    ax.legend(loc="lower right", frameon=False)
    return _svg(fig)


def rf_heatmap(scored: pd.DataFrame, what: str) -> str:
    """R × F grid: customers (or revenue) per cell."""
    values = scored.pivot_table(index="r", columns="f", values="monetary",
                                aggfunc="size" if what == "customers" else "sum", fill_value=0)
    values = values.sort_index(ascending=False)
    fig, ax = _figure(4.6, 3.6)
    image = ax.imshow(values.to_numpy(dtype=float), cmap="Blues", aspect="auto")
    ax.set_xticks(range(len(values.columns)), [str(c) for c in values.columns])
    ax.set_yticks(range(len(values.index)), [str(i) for i in values.index])
    ax.set_xlabel("F score (frequency)")
    ax.set_ylabel("R score (recency)")
    ax.set_title(f"{'Customers' if what == 'customers' else 'Revenue'} by R and F")
    peak = values.to_numpy(dtype=float).max() or 1
    for (i, j), value in np.ndenumerate(values.to_numpy(dtype=float)):
        ax.text(j, i, f"{value:,.0f}", ha="center", va="center", fontsize=7,
                color="white" if value > peak * 0.6 else "black")
    fig.colorbar(image, ax=ax, shrink=0.8)
    return _svg(fig)


def bar_chart(labels, values, title: str, unit: str) -> str:
    labels = [str(v) for v in labels]
    values = np.asarray(values, dtype=float)
    fig, ax = _figure(7.0, max(2.4, 0.32 * len(labels) + 1))
    positions = np.arange(len(labels))[::-1]
    ax.barh(positions, np.nan_to_num(values), color=PALETTE[0])
    ax.set_yticks(positions, labels)
    ax.set_xlabel(unit)
    ax.set_title(title)
    for position, value in zip(positions, values):
        if not np.isnan(value):
            ax.text(value, position, f" {value:,.1f}" if value % 1 else f" {value:,.0f}", va="center", fontsize=8)
    return _svg(fig)


def cohort_heatmap(matrix: pd.DataFrame) -> str:
    columns = [c for c in matrix.columns if c not in ("cohort", "customers")]
    values = matrix[columns].to_numpy(dtype=float) * 100
    fig, ax = _figure(7.5, max(3.0, 0.25 * len(matrix) + 1.2))
    masked = np.ma.masked_invalid(values)
    image = ax.imshow(masked, cmap="Greens", aspect="auto", vmin=0, vmax=np.nanmax(values[:, 1:]) if values.shape[1] > 1
                      and np.isfinite(values[:, 1:]).any() else 100)
    ax.set_yticks(range(len(matrix)), matrix["cohort"].astype(str).tolist())
    ax.set_xticks(range(len(columns)), [c.split("_")[-1] for c in columns])
    ax.set_xlabel("months since the first order")
    ax.set_ylabel("first-order month")
    ax.set_title("Share of each cohort buying again (%); empty: month not over")
    fig.colorbar(image, ax=ax, shrink=0.8)
    return _svg(fig)


# --- HTML ------------------------------------------------------------------------------------

CSS = """
body{font:14px/1.45 -apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;color:#1d2733;margin:0 auto;
max-width:1100px;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px;border-bottom:2px solid #dde4ee;
padding-bottom:4px}p.meta{color:#5b6875;margin:0 0 16px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:12px;width:auto}
th,td{border-bottom:1px solid #e6ebf1;padding:3px 8px;text-align:left;vertical-align:top;white-space:nowrap}
td.long{white-space:normal;min-width:220px}.scroll{overflow-x:auto}
th{background:#f1f4f8;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:flex;flex-wrap:wrap;gap:12px}.charts svg{max-width:100%;height:auto}
nav a{margin-right:12px;color:#2f5d8a}.up{color:#1e7d32}.down{color:#b0413e}
@media print{body{max-width:none;padding:0}.scroll{overflow:visible}h2{page-break-after:avoid}section{page-break-inside:avoid}nav{display:none}}
"""


def render_html(sections: list[Section], *, title: str = "custlens report", subtitle: str = "") -> str:
    """One self-contained page: inline CSS and SVG, no scripts, no external references."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
             f"<h1>{html.escape(title)}</h1><p class=\"meta\">{html.escape(subtitle)}</p>",
             "<nav>" + "".join(f'<a href="#{s.id}">{html.escape(s.title)}</a>' for s in sections) + "</nav>"]
    for section in sections:
        parts.append(f'<section id="{section.id}"><h2>{html.escape(section.title)}</h2>')
        parts.extend(f"<p>{html.escape(line)}</p>" for line in section.text)
        if section.charts:
            parts.append('<div class="charts">' + "".join(section.charts) + "</div>")
        for name, frame in section.tables.items():
            if len(section.tables) > 1:
                parts.append(f"<h3>{html.escape(name)}</h3>")
            parts.append(html_table(frame))
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def html_table(frame: pd.DataFrame) -> str:
    """A plain HTML table, formatted as the terminal table is (shares as %, numbers grouped)."""
    from .output import format_cell, is_percent_column, percent_row_mask

    percent = {c for c in frame.columns if is_percent_column(frame, c)}
    percent_rows = percent_row_mask(frame)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for record, percent_row in zip(frame.itertuples(index=False), percent_rows):
        cells = []
        for position, (name, value) in enumerate(zip(frame.columns, record)):
            number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
            as_percent = name in percent or (percent_row and position > 0 and name not in ("pct_change", "p_value"))
            if number and not pd.isna(value) and as_percent:
                text = f"{value:.1%}"
            elif str(name) == "pct_change" and number and not pd.isna(value):
                text = f"{value:+.1f}%"
            elif str(name) == "p_value" and number and not pd.isna(value):
                text = "<0.001" if value < 0.001 else f"{value:.3f}"
            else:
                text = format_cell(value)
            if number:
                css = ' class="num"'
            elif name == "verdict" and value in ("up", "down"):
                css = f' class="{value}"'
            else:
                css = ' class="long"' if len(text) > 40 else ""
            cells.append(f"<td{css}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<div class=\"scroll\"><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"


# --- XLSX ------------------------------------------------------------------------------------

SHEET_ORDER = ["Overview", "RFM", "Segments", "Pareto", "Key-client portrait", "Lifecycle", "Win-back", "KPI",
               "Cohorts", "Touchpoints"]


def write_workbook(sections: list[Section], fh) -> None:
    """One sheet per table, in :data:`SHEET_ORDER`, with native charts for the RFM segments,
    the lifecycle stages and the Pareto classes."""
    from .output import add_sheet, new_workbook

    tables = {name: frame for section in sections for name, frame in section.tables.items()}
    book = new_workbook(fh, constant_memory=False)
    for name in [n for n in SHEET_ORDER if n in tables] + [n for n in tables if n not in SHEET_ORDER]:
        frame = tables[name]
        sheet = add_sheet(book, frame, name)
        chart_of = {"RFM": ("segment", "customers"), "Lifecycle": ("stage", "customers"),
                    "Pareto": ("group", "revenue_share")}.get(name)
        if chart_of and len(frame):
            label, value = chart_of
            chart = book.add_chart({"type": "bar"})
            sheet_ref = name
            chart.add_series({"name": value, "categories": [sheet_ref, 1, frame.columns.get_loc(label), len(frame),
                                                             frame.columns.get_loc(label)],
                              "values": [sheet_ref, 1, frame.columns.get_loc(value), len(frame),
                                         frame.columns.get_loc(value)],
                              "fill": {"color": PALETTE[0]}})
            chart.set_title({"name": f"{value} by {label}"})
            chart.set_legend({"none": True})
            chart.set_y_axis({"reverse": True})
            sheet.insert_chart(1, len(frame.columns) + 1, chart, {"x_scale": 1.3, "y_scale": 1.4})
    book.close()
