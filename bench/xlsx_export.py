"""XLSX exports of the first N lines of a file of bench/generate.py (deterministic too).

    .venv/bin/python bench/xlsx_export.py bench/data/lines-1000000/lines.parquet 1000000 bench/data/xlsx

Writes with XlsxWriter (an XLSX holds at most 1,048,575 rows below its header):

- ``lines-N.xlsx``: ``customer_id``, ``order_date`` (a date-time cell), ``amount`` (a number), as
  a shop's export to Excel;
- ``1c-N.xlsx``: a 1C-style report of the same lines: a title and an empty row above the header,
  the headers ``Клиент``, ``Дата`` (a date cell, ``dd.mm.yyyy``), ``Сумма`` and ``Номер`` (an
  order number, a whole number; three lines an order).

Used in bench/RESULTS.md, "XLSX through python-calamine".
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
import xlsxwriter


def write(path: Path, columns: dict, russian: bool) -> None:
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("Продажи" if russian else "Sheet1")
    stamp = book.add_format({"num_format": "dd.mm.yyyy" if russian else "yyyy-mm-dd hh:mm:ss"})
    if russian:
        sheet.write_string(0, 0, "Отчёт о продажах")
        sheet.write_row(2, 0, ["Клиент", "Дата", "Сумма", "Номер"])
        first = 3
    else:
        sheet.write_row(0, 0, ["customer_id", "order_date", "amount"])
        first = 1
    for i, (customer, moment, amount) in enumerate(zip(columns["customer_id"], columns["order_date"],
                                                       columns["amount"])):
        row = first + i
        sheet.write_string(row, 0, customer)
        sheet.write_datetime(row, 1, dt.datetime.combine(moment.date(), dt.time()) if russian else moment, stamp)
        sheet.write_number(row, 2, amount)
        if russian:
            sheet.write_number(row, 3, 100000 + i // 3)
    book.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("lines", help="a lines.parquet of bench/generate.py")
    parser.add_argument("n", type=int, help="how many lines (at most 1,048,575)")
    parser.add_argument("folder", help="where to write lines-N.xlsx and 1c-N.xlsx")
    args = parser.parse_args()
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    columns = pq.read_table(args.lines, columns=["customer_id", "order_date", "amount"]) \
        .slice(0, min(args.n, 1_048_575)).to_pydict()
    for name, russian in (("lines", False), ("1c", True)):
        write(folder / f"{name}-{args.n}.xlsx", columns, russian)
        print(folder / f"{name}-{args.n}.xlsx")


if __name__ == "__main__":
    main()
