"""Recommendations on a hand-built basket set, touchpoint metrics recomputed, the customer card."""

import io
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conftest import EXAMPLES
from custlens import card as card_mod
from custlens import recommend as rec
from custlens import touchpoints as tp
from custlens.summary import customers


def lines(rows):
    frame = pd.DataFrame(rows, columns=["customer_id", "order_date", "product", "category", "amount"])
    frame["customer_id"] = frame["customer_id"].astype("string")
    frame["order_date"] = pd.to_datetime(frame["order_date"])
    return frame


# Tea and cups go together (3 customers), coffee and filters (2); x bought only tea.
BASKETS = lines([
    ("a", "2024-01-01", "Tea", "Drinks", 5.0), ("a", "2024-01-02", "Cups", "Kitchen", 8.0),
    ("b", "2024-01-01", "Tea", "Drinks", 5.0), ("b", "2024-01-03", "Cups", "Kitchen", 8.0),
    ("c", "2024-01-01", "Tea", "Drinks", 5.0), ("c", "2024-01-01", "Cups", "Kitchen", 8.0),
    ("c", "2024-01-05", "Coffee", "Drinks", 9.0),
    ("d", "2024-01-01", "Coffee", "Drinks", 9.0), ("d", "2024-01-02", "Filters", "Kitchen", 2.0),
    ("e", "2024-01-01", "Coffee", "Drinks", 9.0), ("e", "2024-01-02", "Filters", "Kitchen", 2.0),
    ("x", "2024-01-04", "Tea", "Drinks", 5.0),
    ("y", "2024-01-04", "Sugar", "Kitchen", 1.0),
    ("z", "2024-01-04", "Tea", "Drinks", -5.0),  # a return is not a purchase
])


def test_cooccurrence_counts_and_similarities():
    basket = rec.baskets(BASKETS)
    assert list(basket.products) == ["Coffee", "Cups", "Filters", "Sugar", "Tea"]
    assert "z" not in set(basket.customers)
    together = (basket.matrix.T @ basket.matrix).toarray()
    p = {name: i for i, name in enumerate(basket.products)}
    assert together[p["Tea"], p["Cups"]] == 3 and together[p["Coffee"], p["Filters"]] == 2
    assert together[p["Tea"], p["Coffee"]] == 1
    lift = rec.similarity(basket, method="lift", min_support=2).toarray()
    n = len(basket.customers)  # 7
    assert lift[p["Tea"], p["Cups"]] == pytest.approx(3 * n / (4 * 3))  # c_ij·N / (n_i·n_j)
    assert lift[p["Tea"], p["Coffee"]] == 0  # one customer only: below min support
    cosine = rec.similarity(basket, method="cosine", min_support=1).toarray()
    assert cosine[p["Tea"], p["Coffee"]] == pytest.approx(1 / np.sqrt(4 * 3))


def test_recommendations_by_hand():
    basket = rec.baskets(BASKETS)
    table = rec.recommend(basket, top=2, explain=True)
    x = table[table["customer_id"] == "x"]
    assert x["product"].tolist()[0] == "Cups" and x["source"].tolist()[0] == "co-purchase"
    assert x["because"].tolist()[0] == "because you bought Tea"
    assert x["source"].tolist()[1] == "popular"  # nothing else co-occurs with tea: popularity fills in
    d = table[table["customer_id"] == "d"]
    assert "Coffee" not in set(d["product"]) and "Filters" not in set(d["product"])  # never what they have
    y = table[table["customer_id"] == "y"]
    assert y["source"].eq("popular").all()
    # popularity (Tea 4, Cups 3, Coffee 3, Filters 2) × (1 + y's share in the category: Kitchen 1.0):
    # Cups 6, then Filters 4 and Tea 4, tied, in product order
    assert y["product"].tolist() == ["Cups", "Filters"]
    only_kitchen = rec.recommend(basket, top=3, category="Kitchen", customers=["x"])
    assert set(only_kitchen["category"]) == {"Kitchen"}
    with pytest.raises(Exception, match="no product has it"):
        rec.recommend(basket, category="Toys")


def pick_one_by_one(score, fallback, top):
    """The rule of rec.pick for one row, written as a plain loop: positive scores, highest first
    (ties by product number), then non-negative fallbacks, highest first, not already taken."""
    order = sorted(range(len(score)), key=lambda j: (-score[j], j))
    chosen = [(j, float(score[j]), True) for j in order if score[j] > 0][:top]
    taken = {j for j, _, _ in chosen}
    for j in sorted(range(len(fallback)), key=lambda j: (-fallback[j], j)):
        if len(chosen) == top or fallback[j] < 0:
            break
        if j not in taken:
            chosen.append((j, 0.0, False))
    return chosen


@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    hnp.arrays(np.float64, (5, n), elements=st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.5])),
    hnp.arrays(np.float64, (5, n), elements=st.sampled_from([-1.0, 0.0, 0.25, 0.5, 0.75])),
    st.integers(1, 8))))
def test_pick_follows_the_rule_row_by_row(case):
    """Ties, zeros, taken products, fewer products than top: the vectorised pick is the loop."""
    scores, fallback, top = case
    at, product, value, co = rec.pick(scores, fallback, top)
    got = [[] for _ in range(len(scores))]
    for i, j, v, c in zip(at, product, value, co):
        got[i].append((int(j), float(v), bool(c)))
    assert got == [pick_one_by_one(scores[i], fallback[i], top) for i in range(len(scores))]
    assert rec._ranks(at).tolist() == [r + 1 for row in got for r in range(len(row))]


def test_chunks_do_not_change_the_recommendations():
    from custlens.io import load_purchases

    basket = rec.baskets(load_purchases([str(EXAMPLES / "purchases.csv")])[0])
    whole = rec.recommend(basket, top=4, explain=True)
    pd.testing.assert_frame_equal(rec.recommend(basket, top=4, explain=True, chunk=7), whole)
    assert len(whole) == 4 * len(basket.customers)


def test_the_popular_baseline_ignores_categories():
    basket = rec.baskets(BASKETS)
    y = rec.recommend(basket, top=2, customers=["y"], method="popular")
    assert y["product"].tolist() == ["Tea", "Coffee"]  # 4 buyers, then 3 (Coffee before Cups by name)


def test_evaluation_beats_popularity_on_the_examples():
    from custlens.io import load_purchases

    purchases = load_purchases([str(EXAMPLES / "purchases.csv")])[0]
    table = rec.evaluate(purchases, top=3).set_index("method")
    ours, baseline = table["hit_rate"].iloc[0], table.loc["most popular", "hit_rate"]
    assert ours > baseline + 0.05  # 28.0% against 15.4% (README)
    assert table["customers"].nunique() == 1


# --- touchpoints ---------------------------------------------------------------------------

INTERACTIONS = pd.DataFrame({
    "customer_id": pd.array(["a", "a", "b", "c", "d"], dtype="string"),
    "date": pd.to_datetime(["2024-03-01", "2024-03-05", "2024-03-10", "2024-04-01", "2024-04-02"]),
    "closed_date": pd.to_datetime(["2024-03-03", "2024-03-05", None, "2024-04-04", "2024-04-03"]),
    "channel": ["phone", "phone", "chat", "chat", "chat"],
    "status": ["closed", "closed", "open", "Закрыто", "в работе"],
    "csat": [5, 2, np.nan, 4, np.nan],
    "nps": [10, np.nan, 3, 8, 9],
})


def test_touchpoint_metrics_by_hand():
    table = tp.quality(INTERACTIONS).set_index("channel")
    chat, phone = table.loc["chat"], table.loc["phone"]
    assert (phone.contacts, phone.customers, chat.contacts, chat.customers) == (2, 1, 3, 3)
    assert phone.csat_share == 0.5 and phone.csat_mean == 3.5 and phone.csat_n == 2
    assert (chat.promoters, chat.passives, chat.detractors, chat.nps_n) == (1, 1, 1, 3) and chat.nps == 0.0
    assert phone.nps == 100.0
    assert chat.share_open == pytest.approx(2 / 3)  # "open" and "в работе"
    assert phone.median_resolution_days == 1.0  # 2 days and 0 days
    assert chat.median_resolution_days == 2.0  # 3 and 1; the open one has no closed date
    assert table["small_n"].all()
    monthly = tp.quality(INTERACTIONS, period="month")
    assert monthly[["period", "channel"]].apply(tuple, axis=1).tolist() == [
        ("2024-03", "chat"), ("2024-03", "phone"), ("2024-04", "chat")]


def test_spend_before_and_after_a_contact():
    purchases = pd.DataFrame({
        "customer_id": pd.array(["a", "a", "a", "b", "b"], dtype="string"),
        "order_date": pd.to_datetime(["2024-01-15", "2024-03-01", "2024-05-01", "2024-02-01", "2024-09-30"]),
        "amount": [100.0, 50.0, 30.0, 20.0, 1.0],
    })
    talk = INTERACTIONS.iloc[[0, 2]]  # a on 1 March (a purchase the same day: in neither window), b on 10 March
    sums = tp.spend_around(talk, purchases)
    assert sums.loc[0].tolist() == [100.0, 30.0]  # 15 Jan is 46 days before; 1 May 61 days after
    assert sums.loc[2].tolist() == [20.0, 0.0]
    table = tp.quality(talk, purchases=purchases).set_index("channel")
    assert table.loc["phone", "share_spent_more"] == 0.0 and table.loc["phone", "spend_n"] == 1


# --- the card ------------------------------------------------------------------------------

CONTACTS = pd.DataFrame({
    "customer_id": pd.array(["a", "b", "p"], dtype="string"),
    "name": pd.array(["Анна Иванова", "Борис Петров", "Анна Смирнова"], dtype="string"),
    "email": pd.array(["Anna@Example.com", "boris@example.com", "anna.s@example.com"], dtype="string"),
    "phone": pd.array(["+7 (912) 345-67-89", "8 912 000 00 00", None], dtype="string"),
    "consent": pd.array([True, False, None], dtype="boolean"),
})


@pytest.mark.parametrize("lookup, expected", [
    (dict(customer_id="a"), "a"), (dict(email=" anna@example.COM "), "a"),
    (dict(phone="89123456789"), "a"), (dict(phone="9123456789"), "a"), (dict(phone="+7 912 000-00-00"), "b"),
    (dict(name="петров"), "b"), (dict(customer_id="p"), "p"),
])
def test_lookup(lookup, expected):
    assert card_mod.find_customer(pd.Series(["a", "b", "c"]), CONTACTS, **lookup) == expected


def test_lookup_failures():
    with pytest.raises(card_mod.CustomerLookupError, match="2 customers match name 'анна'"):
        card_mod.find_customer(pd.Series(["a"]), CONTACTS, name="Анна")
    with pytest.raises(card_mod.CustomerLookupError, match="closest ids are C000123"):
        card_mod.find_customer(pd.Series(["C000123", "Z9"]), None, customer_id="C00123")
    with pytest.raises(card_mod.CustomerLookupError, match="no customer with email"):
        card_mod.find_customer(pd.Series(["a"]), CONTACTS, email="nobody@x")


ID_TEXT = st.text(st.sampled_from("C0123ab Жж-\u00e9"), max_size=8)


@given(word=ID_TEXT, ids=st.lists(ID_TEXT, max_size=60), n=st.integers(1, 6),
       cutoff=st.sampled_from([0.0, 0.3, 0.5, 0.8, 1.0]))
def test_closest_ids_are_difflibs(word, ids, n, cutoff):
    """The same ids in the same order as difflib.get_close_matches (ties: the larger id first),
    duplicates, Cyrillic, accents and empty ids included."""
    import difflib

    assert card_mod.closest(word, ids, n=n, cutoff=cutoff) == difflib.get_close_matches(word, ids, n=n, cutoff=cutoff)


def test_closest_ids_among_many():
    """Where scoring stops early: 200,000 ids of one shape, as an export has them."""
    import difflib

    ids = [f"C{i:06d}" for i in range(200_000)]
    # one digit fewer: 7 of 8 characters match (score 14/15), and 'C001234' is the larger id of the tie
    assert card_mod.closest("C0001234", ids) == ["C001234", "C000234", "C000134", "C000124", "C000123"]
    for word in ("C12345", "c0199999", "C-000042", "Z"):
        assert card_mod.closest(word, ids) == difflib.get_close_matches(word, ids, n=5, cutoff=0.5)


def test_card_content_by_hand():
    from custlens import lifecycle, rfm

    purchases = BASKETS[BASKETS["customer_id"].isin(["a", "b", "c", "d", "e", "x"])]
    summary = customers(purchases)
    stages = lifecycle.stages(summary, contacts=CONTACTS)
    scored = rfm.Settings().apply(summary.customers)
    offers = rec.recommend(rec.baskets(purchases), top=3, customers=["a"], explain=True)
    talk = INTERACTIONS.assign(touchpoint="delivery", type="question")
    content = card_mod.build("a", purchases=purchases, summary=summary, stages=stages, rfm=scored,
                             contacts=CONTACTS, interactions=talk, recommendations=offers)
    assert (content["name"], content["email"], content["consent"]) == ("Анна Иванова", "Anna@Example.com", True)
    assert (content["orders"], content["total_spend"], content["first_order"], content["last_order"]) == (
        2, 13.0, "2024-01-01", "2024-01-02")
    assert content["expected_gap_days"] == 1.0 and content["expected_next_order"] == "2024-01-03"
    assert [p["product"] for p in content["last_purchases"]] == ["Cups", "Tea"]
    assert content["favourite_categories"] == [{"category": "Kitchen", "share": round(8 / 13, 4)},
                                               {"category": "Drinks", "share": round(5 / 13, 4)}]
    assert [i["date"] for i in content["interactions"]] == ["2024-03-05", "2024-03-01"]  # none open: newest first
    assert content["satisfaction"][0] == {"date": "2024-03-01", "csat": 5, "nps": 10}
    assert content["recommendations"][0]["product"] == "Coffee"
    assert content["lifecycle_stage"] in lifecycle.STAGES and content["rfm_segment"]
    prospect = card_mod.build("p", purchases=purchases, summary=summary, stages=stages, rfm=scored, contacts=CONTACTS)
    assert prospect["lifecycle_stage"] == "prospect" and prospect["orders"] is None
    json.dumps(content)  # plain values only


# --- CLI -----------------------------------------------------------------------------------

PURCHASES = str(EXAMPLES / "purchases.csv")
CONTACTS_FILE = str(EXAMPLES / "contacts.csv")
INTERACTIONS_FILE = str(EXAMPLES / "interactions.csv")


def test_cli_card(run):
    result = run("card", "C000147", "--purchases", PURCHASES, "--contacts", CONTACTS_FILE, "--interactions",
                 INTERACTIONS_FILE, "--format", "json", "-q")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    summary = customers(__import__("custlens").load_purchases([PURCHASES])[0]).customers.set_index("customer_id")
    assert data["orders"] == summary.loc["C000147", "frequency"]
    assert data["total_spend"] == summary.loc["C000147", "monetary"]
    assert len(data["last_purchases"]) == 10 and len(data["recommendations"]) == 3
    by_email = run("card", "--email", data["email"].upper(), "--purchases", PURCHASES, "--contacts", CONTACTS_FILE,
                   "--format", "json", "-q")
    assert json.loads(by_email.stdout)["customer_id"] == "C000147"
    shown = run("card", "C000147", "--purchases", PURCHASES, "--contacts", CONTACTS_FILE, "--format", "table", "-q")
    assert data["name"] in shown.stdout and "offer next" in shown.stdout
    missing = run("card", "C9", "--purchases", PURCHASES)
    assert missing.exit_code == 1 and "no customer 'C9'" in missing.stderr
    assert run("card", "--purchases", PURCHASES).exit_code == 2


def test_cli_touchpoints_and_recommend(run, tmp_path):
    table = pd.read_csv(io.StringIO(run("touchpoints", INTERACTIONS_FILE, "--purchases", PURCHASES, "-q").stdout))
    assert {"channel", "csat_share", "nps", "share_open", "spend_before", "spend_after", "small_n"} <= set(table.columns)
    assert table["contacts"].sum() == len(pd.read_csv(INTERACTIONS_FILE))
    out = tmp_path / "touchpoints.xlsx"
    assert run("touchpoints", INTERACTIONS_FILE, "--by", "touchpoint", "--period", "month", "-o", out, "-q").exit_code == 0
    assert pd.read_excel(out)["touchpoint"].nunique() == 5
    offers = pd.read_csv(io.StringIO(run("recommend", PURCHASES, "--top", 2, "-q").stdout))
    assert offers.groupby("customer_id").size().max() == 2
    winback = tmp_path / "winback.csv"
    winback.write_text(run("lapsed", PURCHASES, "-q").stdout, encoding="utf-8")
    explained = pd.read_csv(io.StringIO(run("recommend", PURCHASES, "--customers", winback, "--explain", "-q").stdout))
    assert set(explained["customer_id"]) == set(pd.read_csv(winback)["customer_id"])
    assert explained["because"].str.startswith(("because you bought", "popular")).all()
    evaluation = run("recommend", PURCHASES, "--evaluate")
    assert evaluation.exit_code == 0 and "hit rate@3" in evaluation.stderr
