"""Cross-sell recommendations from item-to-item co-occurrence over customers' purchase histories.

A customer *bought* a product when they have a purchase line of it with a positive amount.
With B the customers × products 0/1 matrix, n_i the customers who bought product i and c_ij
the customers who bought both i and j (pairs with c_ij < ``min_support`` are ignored):

- cosine: sim(i, j) = c_ij / √(n_i·n_j)
- lift:   sim(i, j) = c_ij·N / (n_i·n_j)     (N customers)
- popular: no similarity: the most popular products the customer has not bought (the baseline)

A customer's score for a product j they have not bought is Σ_{i bought} sim(i, j), multiplied by
(1 + the share of the customer's purchase value in j's category), so categories they buy come
first. The top N products by score are recommended; customers with no co-occurrence signal
(or too few scored products) are filled with the most popular products they have not bought,
in the same category order. The reason is the bought product that contributes most
("because you bought X"), or "popular".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import CustlensError, MissingColumnError

METHODS = ("lift", "cosine", "popular")
EVALUATE_NEEDS_PRODUCTS = "--evaluate needs a product (or product_id) column; add --map product=COLUMN"


class NoProductLines(CustlensError):
    """The purchases have a product column but no positive line with a product (up to the as-of date)."""

    def __init__(self):
        super().__init__("no purchase lines with a product to learn from")


@dataclass
class Basket:
    """Who bought what: the sparse customers × products matrix and its labels."""

    matrix: object  # scipy.sparse.csr_matrix of 0/1
    customers: pd.Index
    products: pd.Index  # product keys
    names: pd.Series  # key → product name
    categories: pd.Series  # key → category (may be empty)
    spend_by_category: pd.DataFrame  # customers × categories: share of purchase value


def baskets(purchases: pd.DataFrame, *, as_of=None) -> Basket:
    """Build the purchase matrix from positive lines up to ``as_of``; products are keyed by
    ``product_id`` when the file has one, else by ``product`` name (see :func:`basket_from`)."""
    key_column = "product_id" if "product_id" in purchases else "product" if "product" in purchases else None
    if key_column is None:
        raise MissingColumnError("recommendations need a product (or product_id) column in the purchases; "
                                 "add --map product=COLUMN")
    lines = purchases[(purchases["amount"] > 0).to_numpy() & purchases[key_column].notna().to_numpy()]
    if as_of is not None:
        lines = lines[(lines["order_date"].dt.normalize() <= pd.Timestamp(as_of)).to_numpy()]
    if lines.empty:
        raise NoProductLines()
    keys = lines[key_column].astype("string").to_numpy()
    customer_codes, customers = pd.factorize(lines["customer_id"].astype("string"), sort=True)
    product_codes, products = pd.factorize(pd.Series(keys, dtype="string"), sort=True)
    # the distinct (customer, product) pairs, as one sorted integer each (np.unique is 10x slower here)
    pairs = np.sort(customer_codes.astype(np.int64) * len(products) + product_codes)
    owner, product = np.divmod(pairs[np.r_[True, pairs[1:] != pairs[:-1]]], len(products))

    def lines_per(column: str) -> pd.DataFrame | None:
        if column not in lines:
            return None
        values = lines[column].astype("string").to_numpy()
        known = pd.notna(values)
        counts = pd.DataFrame({"key": keys[known], column: values[known]}).value_counts(sort=False)
        return counts.rename("lines").reset_index()

    spend = None
    if "category" in lines:
        known = lines["category"].notna().to_numpy()
        spend = (pd.DataFrame({"customer": customer_codes[known], "category": lines["category"].to_numpy()[known],
                               "amount": lines["amount"].to_numpy()[known]})
                 .groupby(["customer", "category"], observed=True, sort=False)["amount"].sum().reset_index())
    return basket_from(customers, products, owner, product, names=lines_per("product") if key_column != "product"
                       else None, categories=lines_per("category"), spend=spend)


def basket_from(customers, products, owner: np.ndarray, product: np.ndarray, *, names: pd.DataFrame | None,
                categories: pd.DataFrame | None, spend: pd.DataFrame | None) -> Basket:
    """The :class:`Basket` of the distinct pairs (``owner``, ``product``: codes into the sorted
    ``customers`` and product keys ``products``), with the lines per key and product name
    (``names``: key, product, lines; None when the keys are the names) and per key and category
    (``categories``: key, category, lines), and each customer's net purchase value per category
    (``spend``: customer code, category, amount). Either engine aggregates the lines; the rules
    are here: a key's name and category are the ones on most of its lines (ties: the first in
    alphabetical order; none: empty), and the category shares come from the values in cents."""
    from scipy.sparse import csr_matrix

    if not len(owner):
        raise NoProductLines()
    customers = pd.Index(customers, dtype="string").rename(None)
    products = pd.Index(products, dtype="string").rename(None)
    matrix = csr_matrix((np.ones(len(owner), dtype=np.float64), (owner, product)), shape=(len(customers), len(products)))
    name_of = (pd.Series(products.to_numpy(), index=products, dtype="string") if names is None
               else _most_lines(names, "product").reindex(products))
    category_of = (_most_lines(categories, "category") if categories is not None
                   else pd.Series(dtype="string")).reindex(products)
    if spend is not None and len(spend):
        cents = np.round(spend["amount"].to_numpy(dtype="float64"), 2)
        category_codes, category_names = pd.factorize(spend["category"].astype("string"), sort=True)
        table = np.zeros((len(customers), len(category_names)))
        table[spend["customer"].to_numpy(dtype=np.int64), category_codes] = cents  # one row per pair
        total = table.sum(axis=1, keepdims=True)
        shares = np.divide(table, total, out=np.zeros_like(table), where=total != 0)
        spend_by_category = pd.DataFrame(shares, index=customers, columns=pd.Index(category_names, dtype="string"))
    else:
        spend_by_category = pd.DataFrame(index=customers)
    return Basket(matrix=matrix, customers=customers, products=products, names=name_of, categories=category_of,
                  spend_by_category=spend_by_category)


def _most_lines(counts: pd.DataFrame, column: str) -> pd.Series:
    """key → the value of ``column`` with the most lines (ties: the first in alphabetical order)."""
    ordered = counts.assign(**{column: counts[column].astype("string")}).sort_values(
        ["key", "lines", column], ascending=[True, False, True], kind="stable")
    first = ordered.drop_duplicates("key")
    return pd.Series(first[column].to_numpy(), index=first["key"].astype("string").to_numpy(), dtype="string")


def similarity(basket: Basket, *, method: str = "lift", min_support: int = 2):
    """The products × products similarity (sparse), zero on the diagonal and below min_support."""
    from scipy.sparse import csr_matrix, diags

    if method not in METHODS:
        raise CustlensError(f"--method {method!r}: use lift, cosine or popular")
    b = basket.matrix
    if method == "popular":
        return csr_matrix(b.shape[1:] * 2)
    together = (b.T @ b).tocsr()
    together.setdiag(0)
    together.data[together.data < min_support] = 0
    together.eliminate_zeros()
    bought = np.asarray(b.sum(axis=0)).ravel()
    if method == "cosine":
        scale = 1.0 / np.sqrt(np.where(bought > 0, bought, 1.0))
        return csr_matrix(diags(scale) @ together @ diags(scale))
    inverse = 1.0 / np.where(bought > 0, bought, 1.0)
    return csr_matrix(diags(inverse) @ together @ diags(inverse) * b.shape[0])


#: the cells of one chunk's dense customers × products matrices (4M doubles: 32 MB each)
CHUNK_CELLS = 4_000_000


def recommend(basket: Basket, *, top: int = 3, method: str = "lift", min_support: int = 2,
              customers=None, category: str | None = None, explain: bool = False,
              chunk: int = 2000) -> pd.DataFrame:
    """Top ``top`` products per customer: customer_id, rank, product_id, product, category,
    score, source ("co-purchase" or "popular") and, with ``explain``, because. Customers are
    scored ``chunk`` at a time, fewer for a large catalogue (a chunk's dense customers × products
    matrices stay within ``CHUNK_CELLS`` cells each)."""
    sim = similarity(basket, method=method, min_support=min_support)
    popularity = np.asarray(basket.matrix.sum(axis=0)).ravel()
    allowed = np.ones(len(basket.products), dtype=bool)
    if category is not None:
        allowed = (basket.categories == category).fillna(False).to_numpy()
        if not allowed.any():
            known = ", ".join(sorted(basket.categories.dropna().unique())[:20])
            raise CustlensError(f"--category {category!r}: no product has it; the categories are {known}")
    rows_wanted = np.arange(len(basket.customers))
    if customers is not None:
        rows_wanted = basket.customers.get_indexer(pd.Index(pd.Series(customers, dtype="string").dropna().unique()))
        rows_wanted = np.sort(rows_wanted[rows_wanted >= 0])
    category_codes, category_names = pd.factorize(basket.categories, sort=True)
    spend = basket.spend_by_category.reindex(columns=category_names, fill_value=0.0).to_numpy()
    picks = []  # per chunk: customer rows, ranks, products, scores, co-purchase or not, because
    columns, names = (sim.tocsc(), basket.names.to_numpy()) if explain else (None, None)
    chunk = max(1, min(chunk, CHUNK_CELLS // max(1, len(basket.products))))
    for start in range(0, len(rows_wanted), chunk):
        rows = rows_wanted[start:start + chunk]
        owned = basket.matrix[rows].toarray() > 0
        scores = np.asarray((basket.matrix[rows] @ sim).todense())
        if len(category_names) and method != "popular":
            share = spend[rows]
            boost = np.where(category_codes >= 0, share[:, np.maximum(category_codes, 0)], 0.0)
        else:
            boost = np.zeros_like(scores)
        scores = scores * (1.0 + boost)
        scores[owned | ~allowed[None, :]] = 0.0
        fallback = (popularity[None, :] * (1.0 + boost)) / (popularity.max() + 1.0)  # below any co-purchase score…
        fallback[owned | ~allowed[None, :]] = -1.0
        at, product, value, bought_with = pick(scores, fallback, top)
        because = ([f"because you bought {names[_bought_because(columns, owned[i], j)]}" if co
                    else "popular with other customers" for i, j, co in zip(at, product, bought_with)]
                   if explain else [])
        picks.append((rows[at], _ranks(at), product, value, bought_with, because))
    if picks:
        rows, ranks, products, values, co = (np.concatenate(part) for part in list(zip(*picks))[:5])
        because = [text for *_, texts in picks for text in texts]
    else:
        rows = ranks = products = np.zeros(0, dtype=np.int64)
        values, co, because = np.zeros(0), np.zeros(0, dtype=bool), []
    table = pd.DataFrame({"customer_id": basket.customers.take(rows).array, "rank": ranks.astype(np.int64),
                          "product_id": basket.products.take(products).array,
                          "product": basket.names.array.take(products),
                          "category": basket.categories.array.take(products),
                          "score": np.array([round(float(v), 6) for v in values], dtype=np.float64),
                          "source": np.where(co, "co-purchase", "popular")})
    if explain:
        table["because"] = because
    columns = ["customer_id", "rank", "product_id", "product", "category", "score", "source"] + (
        ["because"] if explain else [])
    for column in ("customer_id", "product_id", "product", "category", "source") + (("because",) if explain else ()):
        table[column] = table[column].astype("string")
    return table[columns]


def pick(scores: np.ndarray, fallback: np.ndarray, top: int):
    """Each row's top products: the products with a positive co-purchase score, highest first
    (ties by product number), then, to fill ``top``, the products with a non-negative ``fallback``
    (popularity), highest first, not already taken. Returns flat arrays in row, then rank order:
    (row, product, score — 0 for popular ones, whether a co-purchase pick)."""
    n = scores.shape[1]
    width = min(top, n)
    by_score = np.argsort(-scores, axis=1, kind="stable")[:, :width]
    value = np.take_along_axis(scores, by_score, axis=1)
    co = value > 0  # a prefix of each row, the scores being sorted
    # the first `top` by popularity hold at most as many taken products as there are co-purchase
    # picks, so they hold enough free ones to fill the row
    by_popularity = np.argsort(-fallback, axis=1, kind="stable")[:, :width]
    taken = ((by_popularity[:, :, None] == by_score[:, None, :]) & co[:, None, :]).any(axis=2)
    free = (np.take_along_axis(fallback, by_popularity, axis=1) >= 0) & ~taken
    wanted = (top - co.sum(axis=1))[:, None]
    popular = free & (np.cumsum(free, axis=1) <= wanted)
    rows = np.arange(len(scores))[:, None]
    at = np.concatenate([np.broadcast_to(rows, co.shape), np.broadcast_to(rows, popular.shape)], axis=1)
    product = np.concatenate([by_score, by_popularity], axis=1)
    keep = np.concatenate([co, popular], axis=1)
    score = np.concatenate([value, np.zeros(popular.shape)], axis=1)
    kind = np.concatenate([np.ones(co.shape, bool), np.zeros(popular.shape, bool)], axis=1)
    return at[keep], product[keep], score[keep], kind[keep]


def _ranks(at: np.ndarray) -> np.ndarray:
    """1, 2, … within each run of equal values of ``at`` (a row's picks are consecutive)."""
    if not len(at):
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, at[1:] != at[:-1]])
    return np.arange(len(at)) - np.repeat(starts, np.diff(np.r_[starts, len(at)])) + 1


def _bought_because(columns, owned: np.ndarray, product: int) -> int:
    """The product the customer owns with the largest similarity to ``product`` (ties: the
    lowest number; none: 0), from the similarity's column ``product`` (``columns``: CSC)."""
    start, end = columns.indptr[product], columns.indptr[product + 1]
    index, value = columns.indices[start:end], columns.data[start:end] * owned[columns.indices[start:end]]
    if not len(index) or value.max() <= 0:
        return 0
    return int(index[np.lexsort((index, -value))[0]])


def evaluate(purchases: pd.DataFrame, *, top: int = 3, method: str = "lift", min_support: int = 2) -> pd.DataFrame:
    """Hide each repeat customer's last order day, learn from everything else, and check whether
    a hidden product is among the top N: hit_rate = customers with a hit / customers evaluated;
    coverage = share of the catalogue recommended at least once. Compared with recommending the
    most popular products the customer has not bought."""
    lines = purchases[(purchases["amount"] > 0).to_numpy()].copy()
    key = "product_id" if "product_id" in lines else "product"
    if key not in lines:
        raise MissingColumnError(EVALUATE_NEEDS_PRODUCTS)
    lines["day"] = lines["order_date"].dt.normalize()
    days = lines.groupby("customer_id")["day"]
    hidden_mask = ((days.transform("nunique") >= 2) & (lines["day"] == days.transform("max"))).to_numpy()
    train, hidden = lines[~hidden_mask], lines[hidden_mask]
    truth = {c: set(g.dropna()) for c, g in hidden[key].astype("string").groupby(hidden["customer_id"].astype("string"))}
    return evaluate_basket(baskets(train), truth, top=top, method=method, min_support=min_support)


def evaluate_basket(basket: Basket, truth: dict, *, top: int = 3, method: str = "lift",
                    min_support: int = 2) -> pd.DataFrame:
    """The table of :func:`evaluate` from the basket learnt without the hidden days and ``truth``
    (customer id → the products of their hidden day), whichever engine built them."""
    known = set(basket.customers)
    evaluated = sorted(c for c in truth if c in known)
    rows = []
    for name, frame in (
        (f"item-to-item ({method})", recommend(basket, top=top, method=method, min_support=min_support,
                                               customers=evaluated)),
        ("most popular", recommend(basket, top=top, method="popular", customers=evaluated)),
    ):
        picked = {c: set(g) for c, g in frame["product_id"].groupby(frame["customer_id"])}
        hits = sum(1 for c in evaluated if picked.get(c, set()) & truth[c])
        rows.append({"method": name, "customers": len(evaluated), "top": top,
                     "hit_rate": hits / len(evaluated) if evaluated else np.nan,
                     "coverage": frame["product_id"].nunique() / len(basket.products)})
    table = pd.DataFrame(rows)
    table["method"] = table["method"].astype("string")
    table.attrs["percent"] = ["hit_rate", "coverage"]
    return table


def top_offers(basket: Basket | None, customers) -> pd.Series | None:
    """customer_id → the first recommended product for each of ``customers`` (the win-back list's
    suggestion); None without a basket (the purchases have no product column)."""
    if basket is None:
        return None
    picks = recommend(basket, top=1, customers=customers)
    return picks.set_index("customer_id")["product"]


def purchase_basket(purchases: pd.DataFrame, *, as_of=None) -> Basket | None:
    """:func:`baskets` of the purchase lines, or None when they have no product column."""
    if "product" not in purchases and "product_id" not in purchases:
        return None
    return baskets(purchases, as_of=as_of)
