"""`custlens lifecycle` and `custlens lapsed` end to end, including the weekly cron job."""

import io
import json

import pandas as pd
import pytest

from conftest import EXAMPLES
from custlens import lifecycle
from custlens.io import load_contacts, load_purchases
from custlens.summary import customers

PURCHASES = str(EXAMPLES / "purchases.csv")
CONTACTS = str(EXAMPLES / "contacts.csv")


def read(result):
    assert result.exit_code == 0, result.stderr
    return pd.read_csv(io.StringIO(result.stdout), dtype={"customer_id": str}, keep_default_na=False, na_values=[""])


@pytest.fixture(scope="module")
def library():
    purchases = load_purchases([PURCHASES])[0]
    contacts = load_contacts([CONTACTS])[0]
    summary = customers(purchases)
    return purchases, contacts, summary, lifecycle.stages(summary, contacts=contacts)


def test_lifecycle_matches_the_library(run, library):
    table = read(run("lifecycle", PURCHASES, "--contacts", CONTACTS, "-q"))
    expected = library[3]
    assert table.columns.tolist() == lifecycle.COLUMNS
    assert table["customer_id"].tolist() == expected["customer_id"].tolist()
    assert table["stage"].tolist() == expected["stage"].astype(str).tolist()
    assert (table["stage"] == "prospect").sum() == len(set(library[1]["customer_id"]) - set(library[2].customers["customer_id"]))


def test_lifecycle_summary_from_and_thresholds(run, library):
    summary = read(run("lifecycle", PURCHASES, "--contacts", CONTACTS, "--summary", "-q"))
    assert summary["stage"].tolist() == lifecycle.STAGES and summary["customers"].sum() == len(library[3])
    matrix = read(run("lifecycle", PURCHASES, "--from", "2025-06-30", "-q"))
    assert matrix["total"].sum() == len(library[2].customers)
    shares = read(run("lifecycle", PURCHASES, "--from", "2025-06-30", "--shares", "-q"))
    assert shares["total"].dropna().round(9).eq(1).all()
    strict = read(run("lifecycle", PURCHASES, "--lost-days", 180, "--summary", "-q")).set_index("stage")
    loose = read(run("lifecycle", PURCHASES, "--summary", "-q")).set_index("stage")
    assert strict.loc["lost", "customers"] > loose.loc["lost", "customers"]
    flat = read(run("lifecycle", PURCHASES, "--threshold", "90d", "-q"))
    assert (flat["expected_gap_days"] == 36.0).all()
    assert run("lifecycle", PURCHASES, "--shares").exit_code == 2
    assert run("lifecycle", PURCHASES, "--from", "2030-01-01").exit_code == 2
    assert run("lifecycle", PURCHASES, "--threshold", "soon").exit_code == 2


def test_baseline_through_the_cli(run, tmp_path):
    path = tmp_path / "q4.json"
    saved = run("lifecycle", PURCHASES, "--as-of", "2025-09-30", "--save-baseline", path)
    assert saved.exit_code == 0 and f"to {path}" in saved.stderr and saved.stdout.startswith("customer_id,")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["as_of"] == "2025-09-30" and sum(data["stages"].values()) > 0
    compared = read(run("lifecycle", PURCHASES, "--baseline", path, "-q")).set_index("stage")
    now = read(run("lifecycle", PURCHASES, "-q"))["stage"].value_counts()
    for stage in lifecycle.STAGES:
        assert compared.loc[stage, "baseline"] == data["stages"][stage]
        assert compared.loc[stage, "now"] == now.get(stage, 0)
    missing = run("lifecycle", PURCHASES, "--baseline", tmp_path / "nope.json")
    assert missing.exit_code == 1 and "no such baseline file" in missing.stderr


def test_lapsed_list(run, library):
    listed = read(run("lapsed", PURCHASES, "--contacts", CONTACTS, "-q"))
    stages = library[3]
    assert set(listed["customer_id"]) == set(stages.loc[stages["stage"] == "lapsed", "customer_id"])
    assert listed.columns.tolist() == lifecycle.WINBACK_COLUMNS
    assert listed["name"].notna().all() and listed["rfm_segment"].notna().all()
    ordered = listed.sort_values(["total_spend", "customer_id"], ascending=[False, True], kind="stable")
    assert listed["customer_id"].tolist() == ordered["customer_id"].tolist()
    top = read(run("lapsed", PURCHASES, "--top", 5, "-q"))
    assert top["customer_id"].tolist() == listed["customer_id"].tolist()[:5]
    assert (read(run("lapsed", PURCHASES, "--min-orders", 3, "-q"))["orders"] >= 3).all()
    risky = read(run("lapsed", PURCHASES, "--include-at-risk", "-q"))
    assert set(risky["stage"]) == {"lapsed", "at_risk"}


def test_new_since_is_a_subset_of_the_list_not_on_it_a_week_ago(run, library):
    purchases = library[0]
    week = read(run("lapsed", PURCHASES, "--new-since", "7d", "-q"))
    full = set(read(run("lapsed", PURCHASES, "-q"))["customer_id"])
    earlier = lifecycle.stages(customers(purchases, as_of=library[2].as_of - pd.Timedelta(days=7)))
    was_lapsed = set(earlier.loc[earlier["stage"] == "lapsed", "customer_id"])
    assert set(week["customer_id"]) == full - was_lapsed
    assert 0 < len(week) < len(full)


def test_require_consent(run, library):
    listed = read(run("lapsed", PURCHASES, "--contacts", CONTACTS, "--require-consent", "-q"))
    consent = library[1].set_index("customer_id")["consent"]
    assert consent.reindex(listed["customer_id"]).all()
    everyone = read(run("lapsed", PURCHASES, "--contacts", CONTACTS, "-q"))
    assert len(listed) == int(consent.reindex(everyone["customer_id"]).fillna(False).sum())
    refused = run("lapsed", PURCHASES, "--require-consent")
    assert refused.exit_code == 1 and "needs contacts with a consent column" in refused.stderr
    assert refused.stdout == ""


def test_cron_job_with_nothing_to_do_is_quiet_and_writes_a_header(run, tmp_path):
    out = tmp_path / "winback.xlsx"
    result = run("lapsed", PURCHASES, "--contacts", CONTACTS, "--as-of", "2030-01-01", "--new-since", "7d",
                 "--require-consent", "-q", "-o", out)
    assert result.exit_code == 0 and result.stderr == "" and result.stdout == ""
    assert pd.read_excel(out).columns.tolist() == lifecycle.WINBACK_COLUMNS
    csv = run("lapsed", PURCHASES, "--as-of", "2030-01-01", "-q")
    assert csv.exit_code == 0 and csv.stdout.strip() == ",".join(lifecycle.WINBACK_COLUMNS)


def test_contacts_columns_from_their_own_config_table(run, in_tmp):
    contacts = pd.read_csv(CONTACTS).rename(columns={"customer_id": "Ключ", "email": "Почта клиента"})
    contacts.to_csv(in_tmp / "contacts.csv", index=False)
    missing = run("lapsed", PURCHASES, "--contacts", "contacts.csv")
    assert missing.exit_code == 1
    assert 'add [columns.contacts] customer_id = "Ключ" to custlens.toml' in missing.stderr
    (in_tmp / "custlens.toml").write_text('[columns.contacts]\ncustomer_id = "Ключ"\nemail = "Почта клиента"\n',
                                          encoding="utf-8")
    listed = read(run("lapsed", PURCHASES, "--contacts", "contacts.csv", "-q"))
    assert listed["email"].notna().all()  # the purchases are untouched by [columns.contacts]
