"""The HTML report and the XLSX workbook: they build, render, stay offline, and match the CLI."""

import io
import re
import shutil
import subprocess
import tempfile

import numpy as np
import pandas as pd
import pytest

from conftest import EXAMPLES

PURCHASES = str(EXAMPLES / "purchases.csv")
RU = EXAMPLES / "ru"
HEADINGS = ["Overview", "Key clients (Pareto 80/20)", "RFM segments", "Behavioural segments (k-means)",
            "Lifecycle stages", "Win-back list (top 20)", "Cohort retention (by first-order month)"]


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    from click.testing import CliRunner

    from custlens.cli import cli

    folder = tmp_path_factory.mktemp("report")
    runner = CliRunner()
    made = {}
    for name, args in {
        "en.html": [PURCHASES, "--contacts", EXAMPLES / "contacts.csv", "--interactions", EXAMPLES / "interactions.csv",
                    "--split", "2025-01-01", "--window", "90d"],
        "ru.html": [RU / "purchases.csv", "--contacts", RU / "contacts.csv", "--interactions", RU / "interactions.csv"],
        "en.xlsx": [PURCHASES, "--split", "2025-01-01", "--window", "90d"],
    }.items():
        result = runner.invoke(cli, ["report", *map(str, args), "-o", str(folder / name), "-q"])
        assert result.exit_code == 0, result.stderr
        made[name] = folder / name
    return made


def test_html_has_every_section_and_is_self_contained(pages):
    text = pages["en.html"].read_text(encoding="utf-8")
    for heading in HEADINGS + ["Touchpoints: CSAT and NPS by touchpoint"]:
        assert f"<h2>{heading}</h2>" in text
    assert "<h2>Before (2024-10-03..2024-12-31) and after (2025-01-01..2025-03-31)</h2>" in text
    assert text.count("<svg") >= 7  # Lorenz, 2 heatmaps, 3 bar charts, cohorts, CSAT
    assert "<script" not in text.lower() and "@import" not in text
    assert not re.findall(r"url\((?!#)", text)  # only the SVGs' own clip paths
    references = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', text)
    # nothing to fetch: anchors, and the images matplotlib embeds in the SVG as data: URIs
    assert references and all(ref.startswith(("#", "data:image/")) for ref in references)
    outside_namespaces = re.sub(r'xmlns(?::\w+)?="[^"]*"', "", text)
    assert "http://" not in outside_namespaces and "https://" not in outside_namespaces


def test_russian_report_keeps_cyrillic(pages):
    text = pages["ru.html"].read_text(encoding="utf-8")
    assert "Техника" in text and "Москва" in text  # categories and cities as text in the tables
    assert 'lang="en"' in text and '<meta charset="utf-8">' in text


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="Debian chromium is not installed (make test installs it when it can)")
@pytest.mark.parametrize("page", ["en.html", "ru.html"])
def test_renders_in_headless_chromium(pages, page, tmp_path):
    import matplotlib.image

    flags = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
             f"--user-data-dir={tempfile.mkdtemp()}", "--enable-logging=stderr", "--v=0"]
    url = pages[page].resolve().as_uri()
    shot = tmp_path / "page.png"
    result = subprocess.run(flags + ["--window-size=1200,1600", f"--screenshot={shot}", url],
                            capture_output=True, text=True, timeout=120)
    assert shot.exists(), result.stderr[-2000:]
    pixels = matplotlib.image.imread(shot)
    assert pixels.std() > 0.02  # not a blank page
    assert "CONSOLE" not in result.stderr  # the page logs nothing: no script, no error
    dom = subprocess.run(flags + ["--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    for heading in HEADINGS:
        assert f"<h2>{heading}</h2>" in dom


def _cli_csv(run, *args):
    result = run(*args, "-q")
    assert result.exit_code == 0, result.stderr
    return pd.read_csv(io.StringIO(result.stdout), keep_default_na=False, na_values=[""])


@pytest.mark.parametrize("sheet, command", [
    ("RFM", ["rfm", PURCHASES, "--summary"]),
    ("Pareto", ["pareto", PURCHASES, "--summary"]),
    ("Lifecycle", ["lifecycle", PURCHASES, "--summary"]),
    ("Segments", ["segment", PURCHASES, "--summary"]),
    ("Cohorts", ["cohorts", PURCHASES]),
    ("Win-back", ["lapsed", PURCHASES, "--top", "20"]),
    ("KPI", ["kpi", PURCHASES, "--split", "2025-01-01", "--window", "90d"]),
])
def test_workbook_sheets_match_the_cli(pages, run, sheet, command):
    from openpyxl import load_workbook

    book = load_workbook(pages["en.xlsx"], read_only=True)
    rows = list(book[sheet].iter_rows(values_only=True))
    workbook = pd.DataFrame(rows[1:], columns=rows[0])
    expected = _cli_csv(run, *command)
    assert list(workbook.columns) == list(expected.columns)
    assert len(workbook) == len(expected)
    for column in expected.columns:
        ours, theirs = workbook[column], expected[column]
        if pd.api.types.is_numeric_dtype(theirs) and theirs.dtype != bool:
            np.testing.assert_allclose(pd.to_numeric(ours, errors="coerce").to_numpy(float),
                                       theirs.to_numpy(float), rtol=1e-6, atol=1e-6, equal_nan=True, err_msg=column)
        else:
            assert ours.fillna("").astype(str).str.lstrip("'").tolist() == theirs.fillna("").astype(str).tolist(), column


def test_workbook_overview_and_layout(pages):
    from openpyxl import load_workbook

    book = load_workbook(pages["en.xlsx"])
    assert book.sheetnames[:3] == ["Overview", "RFM", "Segments"]
    overview = {row[0]: row[1] for row in book["Overview"].iter_rows(min_row=2, values_only=True)}
    from custlens.io import load_purchases
    from custlens.summary import customers

    summary = customers(load_purchases([PURCHASES])[0]).customers
    assert overview["customers"] == len(summary) and overview["orders"] == summary["frequency"].sum()
    assert isinstance(overview["revenue"], float)  # numbers as numbers
    rfm = book["RFM"]
    assert rfm.freeze_panes == "A2" and rfm.auto_filter.ref and rfm["A1"].font.bold


def test_report_needs_a_known_extension(run, tmp_path):
    result = run("report", PURCHASES, "-o", tmp_path / "report.pdf")
    assert result.exit_code == 2 and ".html or .xlsx" in result.stderr


def test_a_tiny_data_set_still_gets_a_report(run, tmp_path):
    small = tmp_path / "p.csv"
    small.write_text("customer_id,date,amount\nA,2024-01-01,10\nB,2024-01-02,5\n", encoding="utf-8")
    result = run("report", small, "-o", tmp_path / "r.html", "-q")
    assert result.exit_code == 0, result.stderr
    assert "No segments: cannot make segments of 2 customers" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_report_writes_rejects_like_every_command(run, tmp_path):
    rejects = tmp_path / "rejects.csv"
    result = run("report", PURCHASES, "-o", tmp_path / "r.xlsx", "--rejects", rejects, "-q")
    assert result.exit_code == 0, result.stderr
    back = pd.read_csv(rejects)
    assert len(back) > 0 and set(back["reason"]) == {"no customer id"}


def workbook_values(path) -> dict:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)
    return {sheet: [list(row) for row in book[sheet].iter_rows(values_only=True)] for sheet in book.sheetnames}


@pytest.mark.parametrize("args", [
    [PURCHASES, "--contacts", EXAMPLES / "contacts.csv", "--interactions", EXAMPLES / "interactions.csv",
     "--split", "2025-01-01", "--window", "90d"],
    [RU / "purchases.csv", "--contacts", RU / "contacts.csv", "--as-of", "2025-09-30",
     "--before", "2025-01-01..2025-03-31", "--after", "2025-04-01..2025-06-30"],
])
def test_both_engines_write_the_same_workbook(run, tmp_path, args):
    """Every section from the DuckDB engine (the lines aggregated there) equals the pandas one."""
    books, said = {}, {}
    for engine in ("duckdb", "pandas"):
        (tmp_path / engine).mkdir()
        path = tmp_path / engine / "report.xlsx"  # the same name, for the same words
        result = run("report", *[str(a).replace(str(tmp_path), ".") for a in args], "--engine", engine, "-o", path)
        assert result.exit_code == 0, result.stderr
        books[engine], said[engine] = workbook_values(path), result.stderr.replace(f"/{engine}/", "/")
    assert "using the pandas engine" not in said["duckdb"] and "DuckDB engine" in said["duckdb"]
    assert said["duckdb"].replace("; DuckDB engine", "") == said["pandas"]
    assert books["duckdb"].keys() == books["pandas"].keys() and {"Win-back", "KPI", "Cohorts"} <= books["duckdb"].keys()
    for sheet, rows in books["pandas"].items():
        assert books["duckdb"][sheet] == rows, sheet
    assert len(books["duckdb"]["Win-back"]) == 21 and any("%" in str(v) for v in books["duckdb"]["Segments"][1])


def test_a_blank_product_column_costs_the_report_only_its_offers(run, tmp_path):
    raw = pd.read_csv(PURCHASES, dtype=str, keep_default_na=False).assign(product="").drop_duplicates()
    path = tmp_path / "lines.csv"
    raw.to_csv(path, index=False)
    for engine in ("duckdb", "pandas"):
        result = run("report", path, "--engine", engine, "-o", tmp_path / f"{engine}.html", "-q")
        assert result.exit_code == 0, result.stderr
        text = (tmp_path / f"{engine}.html").read_text(encoding="utf-8")
        assert "no purchase lines with a product to learn from: the suggestions name no product" in text
