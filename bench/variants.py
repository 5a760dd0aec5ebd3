"""Exports shaped like real ones, derived from a file of bench/generate.py (deterministic too).

    .venv/bin/python bench/variants.py bench/data/lines-10000000/lines.parquet bench/data/variants-10000000

Writes, as Parquet and CSV (ISO times):

- ``shop``: Shopify's order export. An order is a customer's lines of one day (``order_id``
  ``O1``, ``O2``… in customer and day order); its total is on its first line only (the sum of its
  lines, rounded to cents), the later lines' amounts are blank; ``quantity`` is 1–3 (the line's
  number from 1, modulo 3, plus 1) and ``unit_price`` the line's amount / quantity, rounded to cents. Sorted by
  day and order, so an order's lines are adjacent, as in an export.
- ``noamt``: a 1C-style export of the same lines without an amount or order column: customer,
  date, quantity and unit price (every amount is quantity × unit price).

Used in bench/RESULTS.md, "Amounts from quantity × unit price".
"""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("lines", help="a lines.parquet of bench/generate.py")
    parser.add_argument("folder", help="where to write shop.* and noamt.*")
    args = parser.parse_args()
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(f"""CREATE TABLE lines AS SELECT customer_id, order_date, amount, file_row_number + 1 AS n
                    FROM read_parquet('{args.lines}', file_row_number = true)""")
    con.execute("""CREATE TABLE shop AS SELECT
        'O' || dense_rank() OVER (ORDER BY customer_id, order_date::DATE) AS order_id, customer_id, order_date,
        CASE WHEN row_number() OVER (PARTITION BY customer_id, order_date::DATE ORDER BY n) = 1
             THEN round(sum(amount) OVER (PARTITION BY customer_id, order_date::DATE), 2) END AS amount,
        1 + n % 3 AS quantity, round(amount / (1 + n % 3), 2) AS unit_price, n
        FROM lines""")
    iso = "strftime(order_date, '%Y-%m-%d %H:%M:%S') AS order_date"
    for name, columns in (("shop", ["order_id", "customer_id", "order_date", "amount", "quantity", "unit_price"]),
                          ("noamt", ["customer_id", "order_date", "quantity", "unit_price"])):
        order = "order_date::DATE, order_id, n" if name == "shop" else "n"
        chosen = ", ".join(columns)
        con.execute(f"COPY (SELECT {chosen} FROM shop ORDER BY {order}) TO '{folder / name}.parquet'")
        text = chosen.replace("order_date", iso)
        con.execute(f"COPY (SELECT {text} FROM shop ORDER BY {order}) TO '{folder / name}.csv' (HEADER)")
    lines, totals = con.execute("SELECT count(*), count(amount) FROM shop").fetchall()[0]
    print(f"{folder}: shop and noamt, {lines:,} lines ({lines - totals:,} blank amounts in shop)")


if __name__ == "__main__":
    main()
