"""The custlens command line: parse options, call the library, hand the result to output.

Heavy libraries (pandas, pyarrow) are imported inside the commands, so ``--help`` is quick.
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass
from datetime import date

import click

from .errors import CustlensError, MissingColumnError, count
from .formats import ENGINES, FORMATS

ROLE_HELP = "customer_id, order_date, amount, order_id, quantity, unit_price, product, category, channel…"


class CustlensGroup(click.Group):
    """Maps library errors to one line on stderr and exit code 1 (a traceback only with --debug)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CustlensError as e:
            if ctx.params.get("debug") or os.environ.get("CUSTLENS_DEBUG"):
                raise
            raise click.ClickException(str(e)) from e
        except BrokenPipeError:
            # `custlens … | head`: the reader left; end quietly, as xsv and csvkit do.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(0)
        except (click.exceptions.Exit, click.ClickException, click.Abort, KeyboardInterrupt, SystemExit):
            raise
        except Exception as e:  # a bug in custlens: one line for the user, the traceback with --debug
            if ctx.params.get("debug") or os.environ.get("CUSTLENS_DEBUG"):
                raise
            raise click.ClickException(
                f"internal error: {type(e).__name__}: {e}; run `custlens --debug …` for the traceback and report it"
            ) from e


@click.group(cls=CustlensGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="custlens")
@click.option("--debug", is_flag=True, help="Show the Python traceback of an error.")
def cli(debug):
    """Customer analytics from the exports you already have.

    Reads purchases (CSV/TSV/gz, Parquet, XLSX, stdin), finds the columns by their names in
    English, Russian or Ukrainian, and prints one table per report: on a terminal as a
    table, in a pipe as CSV, or to a file with -o.

    \b
        custlens sample-data demo/ --customers 20000
        custlens inspect examples/ru/purchases.csv
        custlens summary examples/purchases.csv -o customers.xlsx
    """


# --- shared options ------------------------------------------------------------------------

@dataclass
class Inputs:
    """The purchase files and how to read them, built from the shared input options."""

    paths: tuple[str, ...]
    options: object  # io.LoadOptions
    rejects: str | None
    quiet: bool
    config: dict
    engine: str = "auto"
    memory_limit: str | None = None  # DuckDB spills to disk beyond it ([load] memory_limit)


def _parse_map(ctx, param, values):
    mapping = {}
    for item in values:
        role, sep, column = item.partition("=")
        if not sep or not role.strip() or not column.strip():
            raise click.BadParameter(f"{item!r}: write ROLE=COLUMN, e.g. --map amount=Сумма", ctx, param)
        mapping[role.strip()] = column.strip()
    return mapping


def input_options(fn):
    """PATHS plus --map/--encoding/--delimiter/--decimal/--date-format/--sheet/--strict/--rejects/
    --config/--quiet, gathered into one ``inputs`` argument."""

    @click.argument("paths", nargs=-1, required=True, metavar="PATH...")
    @click.option("--map", "column_map", multiple=True, callback=_parse_map, metavar="ROLE=COLUMN",
                  help=f"Use COLUMN for ROLE ({ROLE_HELP}). Repeatable.")
    @click.option("--encoding", help="Text encoding of CSV files (default: detected; utf-8, cp1251…).")
    @click.option("--delimiter", "--sep", "delimiter", help="CSV field delimiter (default: detected).")
    @click.option("--decimal", type=click.Choice([".", ","]), help="Decimal mark (default: detected).")
    @click.option("--date-format", help="strptime format of the dates, e.g. '%d.%m.%Y' (default: detected).")
    @click.option("--sheet", help="XLSX sheet name or number (default: the first).")
    @click.option("--strict", is_flag=True, help="Exit 1 instead of excluding any row.")
    @click.option("--rejects", type=click.Path(dir_okay=False), help="Write the excluded rows and why to FILE.")
    @click.option("--config", "config_path", type=click.Path(dir_okay=False),
                  help="Settings file (default: ./custlens.toml when present).")
    @click.option("-q", "--quiet", is_flag=True, help="Print only warnings and errors on stderr.")
    @click.option("--engine", type=click.Choice(ENGINES),
                  help="Summary engine: duckdb (clean Parquet or UTF-8 CSV, out of core) or pandas (every "
                       "format, row-by-row reports); auto (default): duckdb when it can, else pandas.")
    @functools.wraps(fn)
    def wrapper(*args, paths, column_map, encoding, delimiter, decimal, date_format, sheet, strict, rejects,
                config_path, quiet, engine, **kwargs):
        from .config import load_config
        from .io import LoadOptions
        from .sink import choose_format

        if rejects:  # as -o: an unknown extension now, not after reading the files
            choose_format(None, rejects, stdout_is_tty=False, option="--rejects")
        config = load_config(config_path)
        load = config.get("load", {})
        options = LoadOptions(
            columns={**columns_for(config, "purchases"), **column_map},
            encoding=encoding or load.get("encoding"),
            delimiter=_unescape(delimiter or load.get("delimiter")),
            decimal=decimal or load.get("decimal"),
            date_format=date_format or load.get("date_format"),
            sheet=sheet or load.get("sheet"),
            strict=strict,
        )
        kwargs["inputs"] = Inputs(paths=paths, options=options, rejects=rejects, quiet=quiet, config=config,
                                  engine=engine or load.get("engine", "auto"), memory_limit=load.get("memory_limit"))
        return fn(*args, **kwargs)

    return wrapper


def columns_for(config: dict, kind: str) -> dict[str, str]:
    from .config import column_map

    return column_map(config, kind)


def _unescape(delimiter: str | None) -> str | None:
    return {"\\t": "\t", "tab": "\t", "TAB": "\t"}.get(delimiter, delimiter) if delimiter else None


@dataclass
class Output:
    """Where and how a command writes its table, built from the shared output options."""

    fmt: str | None
    path: str | None
    sort: str | None
    limit: int | None

    def emit(self, frame, title: str) -> None:
        from . import output

        output.emit(frame, fmt=self.fmt, path=self.path, title=title, sort=self.sort, limit=self.limit)


class OutputFile(click.Path):
    """-o FILE; ``-`` is stdout (None), as in most command-line tools, not a file named '-'."""

    def __init__(self):
        super().__init__(dir_okay=False)

    def convert(self, value, param, ctx):
        return None if value == "-" else super().convert(value, param, ctx)


def output_options(fn):
    """--format, -o/--output, --sort and --limit, spelled the same in every command and gathered
    into one ``out`` argument."""

    @click.option("--format", "fmt", type=click.Choice(FORMATS),
                  help="Default: table on a terminal, csv in a pipe, or from -o's extension.")
    @click.option("-o", "--output", "path", type=OutputFile(),
                  help="Write to FILE (atomically); the format comes from its extension. - is stdout.")
    @click.option("--sort", metavar="[-]COLUMN", help="Sort by COLUMN; -COLUMN for descending.")
    @click.option("--limit", type=click.IntRange(min=0), metavar="N", help="Only the first N rows.")
    @functools.wraps(fn)
    def wrapper(*args, fmt, path, sort, limit, **kwargs):
        from .sink import choose_format

        if path is not None:
            choose_format(fmt, path, stdout_is_tty=False)  # an unknown extension: now, not after reading the files
        kwargs["out"] = Output(fmt=fmt, path=path, sort=sort, limit=limit)
        return fn(*args, **kwargs)

    return wrapper


class AsOf(click.ParamType):
    name = "DATE"

    def convert(self, value, param, ctx):
        if value is None or isinstance(value, date):
            return value
        if value.lower() == "today":
            return date.today()
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not YYYY-MM-DD or 'today'", param, ctx)


class Days(click.ParamType):
    """A number of days: 7d, 90d, 2w or a bare number."""

    name = "DAYS"

    def convert(self, value, param, ctx):
        from .lifecycle import ThresholdError, parse_days

        if isinstance(value, int):
            return value
        try:
            days = parse_days(value)
        except ThresholdError as e:
            self.fail(str(e), param, ctx)
        if days <= 0:
            self.fail(f"{value!r}: give a positive number of days", param, ctx)
        return days


class Months(click.ParamType):
    """A horizon in whole months: 12m, 1y, or a bare number of months."""

    name = "MONTHS"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        text = str(value).strip().lower()
        try:
            months = int(text[:-1]) * 12 if text.endswith("y") else int(text[:-1] if text.endswith("m") else text)
        except ValueError:
            self.fail(f"{value!r}: write months as 12m or years as 1y", param, ctx)
        if months <= 0:
            self.fail(f"{value!r}: give a positive horizon", param, ctx)
        return months


class KChoice(click.ParamType):
    """auto, or a number of segments from 1 to 50."""

    name = "K"

    def convert(self, value, param, ctx):
        if value in (None, "auto") or isinstance(value, int):
            return value
        if str(value).isdigit() and 1 <= int(value) <= 50:
            return int(value)
        self.fail(f"{value!r}: write auto or a number of segments from 1 to 50", param, ctx)


as_of_option = click.option(
    "--as-of", type=AsOf(), default=None,
    help="Report date: YYYY-MM-DD or 'today' (default: the last purchase date in the data).",
)


def info(inputs_or_quiet, message: str) -> None:
    """An informational line on stderr, unless --quiet."""
    quiet = inputs_or_quiet if isinstance(inputs_or_quiet, bool) else inputs_or_quiet.quiet
    if not quiet:
        click.echo(message, err=True)


def warn(message: str) -> None:
    click.echo(message, err=True)


def say(inputs: Inputs, messages: list[tuple[str, str]]) -> None:
    """Print ``(level, text)`` messages on stderr; --quiet keeps only the warnings."""
    for level, text in messages:
        if level == "warning":
            warn(text)
        else:
            info(inputs, text)


def load_purchases(inputs: Inputs):
    """Load purchases, report what was detected and excluded on stderr, write --rejects."""
    from . import output
    from .io import load_purchases as load

    with output.status(f"reading {', '.join(inputs.paths)}"):
        frame, report = load(list(inputs.paths), inputs.options)
    _report(inputs, report)
    return frame, report


def _report(inputs: Inputs, report) -> None:
    say(inputs, report.messages())
    if inputs.rejects:
        rejects = report.rejects
        if rejects is None:
            import pandas as pd

            rejects = pd.DataFrame(columns=["source", "row", "reason"])
        write_rejects(inputs, rejects)


def write_rejects(inputs: Inputs, rejects) -> None:
    """--rejects: the excluded rows (source, row, reason and the row's columns) to the file."""
    from . import output

    output.emit(rejects, path=inputs.rejects)
    warn(f"wrote {count(len(rejects), 'excluded row')} to {inputs.rejects}")


# --- commands ------------------------------------------------------------------------------

@cli.command()
@input_options
@as_of_option
@output_options
def summary(inputs, as_of, out):
    """One row per customer: first and last order, recency, frequency, monetary value, tenure.

    \b
        custlens summary examples/purchases.csv
        custlens summary exports/*.parquet -o customers.xlsx
        cat purchases.csv | custlens summary - --format jsonl
        custlens summary examples/ru/purchases.csv --as-of 2025-06-30
        custlens summary examples/purchases.csv --sort -monetary --limit 20
    """
    fast = summarize_fast(inputs, as_of)
    if fast is not None:
        emit_fast(fast, fast.table, out, title="Customers")
        if out.path:
            info(inputs, f"wrote {count(fast.customers, 'customer')} to {out.path}")
        return
    _, result = load_summary(inputs, as_of, fast=None)
    out.emit(result.customers, title="Customers")
    if out.path:
        info(inputs, f"wrote {count(len(result.customers), 'customer')} to {out.path}")


NOT_TRIED = object()


def load_summary(inputs: Inputs, as_of, *, needs_lines=True, days=False, fast=NOT_TRIED):
    """Load purchases and summarise them per customer, reporting both steps on stderr.

    ``needs_lines`` (a bool, or a test of the DuckDB :class:`~custlens.engine.Source`) says whether the
    command reads the purchase lines too; when it does not, the DuckDB engine may compute the
    summary without loading them, and the purchases returned are None. ``fast`` is the
    :func:`summarize_fast` result when the caller already asked for it; ``days`` asks it to keep
    every customer's order days (for gap-based reports).
    """
    from .summary import customers

    if fast is NOT_TRIED:
        fast = summarize_fast(inputs, as_of, needs_lines=needs_lines, days=days)
    if fast is not None:
        from .engine import to_pandas

        return None, to_pandas(fast)
    from . import output

    purchases, _ = load_purchases(inputs)
    with output.status(f"summarising {count(len(purchases), 'line')}"):
        result = customers(purchases, as_of=as_of)
    say(inputs, result.messages())
    return purchases, result


def emit_fast(fast, table: str, out: Output, *, title: str, order: str = "customer_id") -> None:
    """A table of the DuckDB engine, its rows in ``order`` (SQL): to Parquet or CSV/TSV (a file or
    stdout) straight from DuckDB (no pandas), else through :meth:`Output.emit` like any other."""
    from . import engine
    from .sink import choose_format, isatty

    fmt = choose_format(out.fmt, out.path, isatty(sys.stdout))
    if out.path and fmt == "parquet":
        engine.write_parquet(fast, out.path, table=table, sort=out.sort, limit=out.limit, order=order)
    elif not (fmt in ("csv", "tsv") and engine.write_csv(fast, out.path, sep="\t" if fmt == "tsv" else ",", table=table,
                                                         sort=out.sort, limit=out.limit, order=order)):
        out.emit(engine.fetch(fast, table, order=order), title=title)


def summarize_fast(inputs: Inputs, as_of, *, needs_lines=False, days=False, gaps=True, orders=True, costs=False):
    """The summary by the DuckDB engine (an :class:`custlens.engine.Result`, messages said), or None
    when the pandas engine is to be used: chosen, needed for the lines (``needs_lines``: True, or
    a test of the :class:`custlens.engine.Source`), or required by the input.
    ``orders=False`` only checks the lines and says what loading them says (for reports that
    compute from the lines in DuckDB, such as kpi); ``costs`` also reads the cost column, and says
    what the loader says of it (for margins)."""
    if inputs.engine == "pandas" or needs_lines is True:
        say_pandas_reads_lines(inputs)
        return None
    from . import engine

    try:
        source = engine.choose(inputs.engine, inputs.paths, inputs.options, rejects=inputs.rejects,
                               memory_limit=inputs.memory_limit)
        if source is None or (callable(needs_lines) and needs_lines(source)):
            if source is not None:
                say_pandas_reads_lines(inputs)
            return None
        result = engine.summarize(source, as_of, keep_days=days, strict=inputs.options.strict, gaps=gaps,
                                  orders=orders, progress=f"summarising {', '.join(inputs.paths)}")
        if costs:
            engine.read_numbers(source, ("cost",), progress=result.progress)
    except engine.Unsupported as e:
        if inputs.engine == "duckdb":
            raise CustlensError(f"--engine duckdb cannot take this input ({e}); use --engine auto or pandas, "
                                "which read it row by row") from None
        if isinstance(e, engine.DatesNeedAFormat):  # the one reason the user can lift, on the files that need it most
            info(inputs, f"using the pandas engine: {e}, and lets the DuckDB engine read them (faster on large files)")
        return None  # auto: the pandas loader reads it, and reports what is unusual row by row
    say(inputs, result.load_messages())
    if inputs.rejects:
        write_rejects(inputs, engine.rejected_rows(result))
    if orders:
        say(inputs, result.summary_messages())
    return result


def say_pandas_reads_lines(inputs: Inputs) -> None:
    """Under ``--engine duckdb``, say that this report reads the purchase lines with pandas."""
    if inputs.engine == "duckdb":
        info(inputs, "this report reads the purchase lines: using the pandas engine")


def load_contacts_file(paths: tuple[str, ...], inputs: Inputs):
    """Contacts for a report (--contacts): columns detected, [columns] from the config applied."""
    from .io import LoadOptions
    from .io import load_contacts as load

    options = LoadOptions(columns=columns_for(inputs.config, "contacts"), strict=inputs.options.strict,
                          map_with="[columns.contacts]")
    contacts, report = load(list(paths), options)
    say(inputs, report.messages())
    return contacts


def _one_view(**flags) -> None:
    chosen = [name for name, on in flags.items() if on]
    if len(chosen) > 1:
        raise click.UsageError(f"choose one of {', '.join('--' + n.replace('_', '-') for n in chosen)}")


@cli.command()
@input_options
@as_of_option
@click.option("--bins", type=click.IntRange(2, 9), help="Score levels per dimension (default 5, or [rfm] bins).")
@click.option("--method", type=click.Choice(["quantile", "fixed"]),
              help="quantile (default): by rank, ties kept together; fixed: [rfm.edges] in custlens.toml.")
@click.option("--summary", "view_summary", is_flag=True, help="One row per segment, with the recommended action.")
@click.option("--show-bins", is_flag=True, help="The value range each score covers, per dimension.")
@click.option("--check-rules", is_flag=True, help="Score combinations no segment rule covers, or several do.")
@output_options
def rfm(inputs, as_of, bins, method, view_summary, show_bins, check_rules, out):
    """Score every customer on recency, frequency and monetary value and name the segment.

    Scores run 1..bins, higher is better; equal values always get equal scores. Segments follow
    the R×F grid (Champions, Loyal, At Risk, Hibernating…) or [[rfm.segments]] rules in
    custlens.toml.

    \b
        custlens rfm examples/purchases.csv
        custlens rfm examples/purchases.csv --summary
        custlens rfm examples/purchases.csv --bins 4 --config custlens.toml -o rfm.xlsx
        custlens rfm examples/purchases.csv --show-bins
        custlens rfm examples/purchases.csv --check-rules --config custlens.toml
    """
    from . import rfm as rfm_mod

    _one_view(summary=view_summary, show_bins=show_bins, check_rules=check_rules)
    settings = rfm_mod.Settings.from_config(inputs.config, bins=bins, method=method)
    if check_rules:
        problems = rfm_mod.check_rules(settings.rules, settings.bins)
        warn(f"{count(int((problems['kind'] == 'gap').sum()), 'gap')} and "
             f"{count(int((problems['kind'] == 'overlap').sum()), 'overlap')} in the segment rules")
        out.emit(problems, title="Segment rule check")
        return
    fast = None if view_summary or show_bins else summarize_fast(inputs, as_of, gaps=False)
    if fast is not None:  # scored where it was summarised
        from . import engine

        table = engine.add_table(fast, "rfm", settings.sql(fast.table))
        _warn_others(engine.count_rows(fast, table, f"segment = '{rfm_mod.OTHER}'"))
        emit_fast(fast, table, out, title=f"RFM as of {fast.as_of:%Y-%m-%d}")
        return
    _, result = load_summary(inputs, as_of, needs_lines=False, fast=NOT_TRIED if view_summary or show_bins else None)
    scored = settings.apply(result.customers)
    _warn_others(int((scored["segment"] == rfm_mod.OTHER).sum()))
    if show_bins:
        out.emit(rfm_mod.bin_table(scored), title="RFM score ranges")
    elif view_summary:
        out.emit(rfm_mod.summarize(scored, rules=settings.rules), title=f"RFM segments as of {result.as_of:%Y-%m-%d}")
    else:
        out.emit(scored, title=f"RFM as of {result.as_of:%Y-%m-%d}")


def _warn_others(others: int) -> None:
    if others:
        warn(f"warning: {count(others, 'customer')} match no segment rule and are in \"Other\"; "
             "see custlens rfm --check-rules")


def _parse_abc(ctx, param, value):
    if value is None:
        return None
    try:
        parts = tuple(float(x) for x in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 2 or not 0 < parts[0] < parts[1] <= 1:
        raise click.BadParameter("two increasing shares, e.g. 0.8,0.95", ctx, param)
    return parts


@cli.command()
@input_options
@as_of_option
@click.option("--by", type=click.Choice(["revenue", "orders", "margin"]), default="revenue", show_default=True,
              help="What customers are ranked by (margin needs a cost column).")
@click.option("--share", type=click.FloatRange(0, 1, min_open=True),
              help="Key clients: the smallest top set bringing this share (default 0.8, or [pareto] share).")
@click.option("--abc", callback=_parse_abc, metavar="A,B",
              help="ABC class edges as cumulative shares (default 0.8,0.95, or [pareto] abc).")
@click.option("--summary", "view_summary", is_flag=True, help="Counts and value per ABC class, Gini, top 20%.")
@click.option("--portrait", is_flag=True, help="Key clients next to the rest: orders, AOV, categories, cities…")
@click.option("--contacts", "contacts_paths", multiple=True, type=click.Path(),
              help="Contacts file for the portrait (city, source, consent). Repeatable.")
@click.option("--key-clients-only", is_flag=True, help="List only the key clients.")
@output_options
def pareto(inputs, as_of, by, share, abc, view_summary, portrait, contacts_paths, key_clients_only, out):
    """Find the key clients: the smallest set of customers bringing 80% of revenue.

    Every customer gets a rank, a share, a cumulative share, an ABC class and a key-client flag;
    customers whose net revenue is zero or negative are listed last, not ranked.

    \b
        custlens pareto examples/purchases.csv
        custlens pareto examples/purchases.csv --share 0.9 --summary
        custlens pareto examples/purchases.csv --by margin --key-clients-only
        custlens pareto examples/purchases.csv --portrait --contacts examples/contacts.csv
        custlens pareto examples/purchases.csv --key-clients-only -o key-clients.xlsx
    """
    from . import pareto as pareto_mod

    _one_view(summary=view_summary, portrait=portrait, key_clients_only=key_clients_only)
    settings = inputs.config.get("pareto", {})
    share = share or settings.get("share", 0.8)
    abc = abc or tuple(settings.get("abc", (0.8, 0.95)))
    fast = NOT_TRIED
    if by != "margin" and not portrait:  # ranked where it was summarised (no median gaps)
        fast = summarize_fast(inputs, as_of, gaps=False)
        if fast is not None:
            _pareto_fast(inputs, fast, by=by, share=share, abc=abc, view_summary=view_summary,
                         key_clients_only=key_clients_only, out=out)
            return
    # the margins and the portrait's categories, channels and regions are added up per customer in DuckDB
    from .engine import can_number
    from .lines import Lines
    from .schema import LABEL_ROLES

    def needs_lines(source) -> bool:
        if by == "margin" and "cost" not in source.mapped:
            raise MissingColumnError(pareto_mod.MARGIN_NEEDS_COST)  # before reading every line
        return (by == "margin" and not can_number(source, "cost")) or (portrait and not labels_readable(source, LABEL_ROLES))

    if fast is NOT_TRIED:  # not asked above (once DuckDB has said no, pandas reads the files)
        fast = summarize_fast(inputs, as_of, needs_lines=needs_lines, costs=by == "margin")
    purchases, result = load_summary(inputs, as_of, fast=fast)
    lines = Lines.of(purchases, fast, result)
    values = pareto_mod.customer_values(result.customers, by=by, margins=lines.margins() if by == "margin" else None)
    ranked = pareto_mod.rank(result.customers, values, share=share, abc=abc, name=by)
    table, headline = pareto_mod.summarize(ranked, share=share, name=by)
    for line in pareto_mod.headline_text(headline, by):
        info(inputs, line)
    if view_summary:
        out.emit(table, title=_pareto_summary_title(by, result.as_of, headline))
    elif portrait:
        contacts = load_contacts_file(contacts_paths, inputs) if contacts_paths else None
        values = lines.label_values()
        out.emit(pareto_mod.portrait(result.customers, ranked, values=values, contacts=contacts),
                 title="Key clients and the rest")
    else:
        if key_clients_only:
            ranked = ranked[ranked["key_client"]]
        out.emit(ranked, title=f"Customers by {by} as of {result.as_of:%Y-%m-%d}")


def _pareto_fast(inputs: Inputs, fast, *, by: str, share: float, abc, view_summary: bool, key_clients_only: bool,
                 out: Output) -> None:
    """``pareto`` and ``pareto --summary`` on the DuckDB engine's summary: ranked in SQL
    (:func:`custlens.pareto.rank_sql`); the list's headline from three columns
    (:func:`custlens.pareto.headline_of`), no pandas for Parquet; the summary's from the ranking."""
    from . import engine
    from . import pareto as pareto_mod

    table = engine.add_table(fast, "pareto", pareto_mod.rank_sql(fast.table, by=by, share=share, abc=abc))
    order = pareto_mod.rank_order(by)
    if view_summary:  # the three columns it reads
        import pandas as pd

        ranked = pd.DataFrame(fast.con.execute(f"SELECT {by}, abc_class, key_client FROM {table} "
                                               f"ORDER BY {order}").fetchnumpy())
        summary, headline = pareto_mod.summarize(ranked, share=share, name=by)
        for line in pareto_mod.headline_text(headline, by):
            info(inputs, line)
        out.emit(summary, title=_pareto_summary_title(by, fast.as_of, headline))
        return
    columns = fast.con.execute(f"SELECT {by}, key_client, rank IS NOT NULL FROM {table} ORDER BY {order}").fetchnumpy()
    headline = pareto_mod.headline_of(*columns.values(), share=share)
    for line in pareto_mod.headline_text(headline, by):
        info(inputs, line)
    if key_clients_only:
        table = engine.add_view(fast, "key_clients", f"SELECT * FROM {table} WHERE key_client")
    emit_fast(fast, table, out, title=f"Customers by {by} as of {fast.as_of:%Y-%m-%d}", order=order)


def _pareto_summary_title(by: str, as_of, headline: dict) -> str:
    return f"Pareto by {by} as of {as_of:%Y-%m-%d} · Gini {headline['gini']:.3f}"


def labels_readable(source, roles) -> bool:
    """Whether the DuckDB engine reads every one of ``roles`` the files have as pandas does."""
    from .engine import can_label

    return all(can_label(source, role) for role in roles if role in source.mapped)


def threshold_options(fn):
    """The lifecycle thresholds, each overriding [lifecycle] in custlens.toml."""
    for option in reversed((
        click.option("--threshold", type=Days(), help="One absolute lapse threshold for everyone, e.g. 90d "
                                                      "(default: each customer's own rhythm)."),
        click.option("--new-days", type=click.IntRange(min=0), help="New: first order within N days (30)."),
        click.option("--at-risk-factor", type=click.FloatRange(min=0, min_open=True),
                     help="At risk: overdue ratio above this (1.5)."),
        click.option("--lapsed-factor", type=click.FloatRange(min=0, min_open=True),
                     help="Lapsed: overdue ratio above this (2.5)..."),
        click.option("--min-lapsed-days", type=click.IntRange(min=0), help="...and at least N days since (60)."),
        click.option("--lost-days", type=click.IntRange(min=0), help="Lost: no order for more than N days (365)."),
    )):
        fn = option(fn)

    @functools.wraps(fn)
    def wrapper(*args, threshold, new_days, at_risk_factor, lapsed_factor, min_lapsed_days, lost_days, **kwargs):
        kwargs["thresholds"] = dict(threshold_days=threshold, new_days=new_days, at_risk_factor=at_risk_factor,
                                    lapsed_factor=lapsed_factor, min_lapsed_days=min_lapsed_days,
                                    lost_days=lost_days)
        return fn(*args, **kwargs)

    return wrapper


contacts_option = click.option("--contacts", "contacts_paths", multiple=True, type=click.Path(),
                               help="Contacts file(s): names, e-mails, phones, consent, prospects. Repeatable.")


def lifecycle_stages(inputs: Inputs, as_of, thresholds: dict, contacts_paths, *, needs_lines=True, fast=NOT_TRIED):
    """Load everything a lifecycle report needs and compute the stages at the as-of date
    (``needs_lines`` and ``fast`` as for :func:`load_summary`)."""
    from . import lifecycle

    settings = lifecycle.Thresholds.from_config(inputs.config, **thresholds)
    purchases, result = load_summary(inputs, as_of, needs_lines=needs_lines, days=True, fast=fast)
    contacts = load_contacts_file(contacts_paths, inputs) if contacts_paths else None
    table = lifecycle.stages(result, contacts=contacts, thresholds=settings)
    return purchases, result, contacts, settings, table


@cli.command()
@input_options
@as_of_option
@contacts_option
@threshold_options
@click.option("--summary", "view_summary", is_flag=True, help="Customers, revenue and durations per stage.")
@click.option("--from", "from_date", type=AsOf(), help="Transition matrix: stage at DATE × stage at the as-of date.")
@click.option("--shares", is_flag=True, help="With --from: row shares instead of counts.")
@click.option("--save-baseline", type=click.Path(dir_okay=False), help="Keep the stage counts in FILE (JSON).")
@click.option("--baseline", "baseline_path", type=click.Path(dir_okay=False),
              help="Compare the stage counts with a saved baseline.")
@output_options
def lifecycle(inputs, as_of, contacts_paths, thresholds, view_summary, from_date, shares, save_baseline,
              baseline_path, out):
    """Put every customer in one lifecycle stage, measured against their own buying rhythm.

    Stages: prospect, new, active, reactivated, at_risk, lapsed, lost. A customer is overdue when
    the days since their last order exceed their usual gap between orders (see the README).

    \b
        custlens lifecycle examples/purchases.csv --contacts examples/contacts.csv
        custlens lifecycle examples/purchases.csv --summary
        custlens lifecycle examples/purchases.csv --from 2025-06-30
        custlens lifecycle examples/purchases.csv --save-baseline q4.json
        custlens lifecycle examples/purchases.csv --baseline q4.json
        custlens lifecycle examples/purchases.csv --threshold 90d --summary
    """
    from . import lifecycle as lifecycle_mod
    from . import output

    _one_view(summary=view_summary, from_=from_date is not None, baseline=baseline_path is not None)
    if shares and from_date is None:
        raise click.UsageError("--shares goes with --from DATE")
    fast = summarize_fast(inputs, as_of, days=True)
    purchases, result, contacts, settings, table = lifecycle_stages(inputs, as_of, thresholds, contacts_paths,
                                                                    fast=fast)
    if save_baseline:
        saved = lifecycle_mod.baseline(table, as_of=result.as_of, thresholds=settings)
        output.write_json(saved, save_baseline)
        info(inputs, f"saved the stage counts as of {result.as_of:%Y-%m-%d} to {save_baseline}")
    if view_summary:
        out.emit(lifecycle_mod.summarize(table, as_of=result.as_of), title=f"Lifecycle as of {result.as_of:%Y-%m-%d}")
    elif from_date is not None:
        if pd_timestamp(from_date) >= result.as_of:
            raise click.UsageError(f"--from {from_date} must be before the as-of date {result.as_of:%Y-%m-%d}")
        from .lines import Lines

        with Lines.of(purchases, fast, result).summary_at(from_date) as then:
            earlier = lifecycle_mod.stages(then, contacts=contacts, thresholds=settings)
        out.emit(lifecycle_mod.transitions(earlier, table, shares=shares),
                 title=f"Stage on {from_date} (rows) → on {result.as_of:%Y-%m-%d} (columns)")
    elif baseline_path:
        saved = lifecycle_mod.read_baseline(baseline_path)
        info(inputs, f"baseline as of {saved.get('as_of', '?')}, now as of {result.as_of:%Y-%m-%d}")
        out.emit(lifecycle_mod.compare_baseline(table, saved), title="Stage counts: baseline and now")
    else:
        out.emit(table, title=f"Lifecycle stages as of {result.as_of:%Y-%m-%d}")


def pd_timestamp(value):
    import pandas as pd

    return pd.Timestamp(value)


@cli.command()
@input_options
@as_of_option
@contacts_option
@threshold_options
@click.option("--include-at-risk", is_flag=True, help="List at-risk customers too.")
@click.option("--by", "rule", type=click.Choice(["stage", "probability"]), default="stage", show_default=True,
              help="stage: the lifecycle stage says lapsed; probability: BG/NBD P(alive) below --below.")
@click.option("--below", type=click.FloatRange(0, 1, min_open=True), default=0.3, show_default=True,
              help="With --by probability: list customers whose P(alive) is below this.")
@click.option("--new-since", type=Days(), help="Only customers who joined the list in the last N days (e.g. 7d).")
@click.option("--require-consent", is_flag=True, help="Only customers whose contact record allows marketing.")
@click.option("--min-orders", type=click.IntRange(min=1), help="Only customers with at least N orders.")
@click.option("--min-spend", type=float, help="Only customers who spent at least this much (net).")
@click.option("--top", type=click.IntRange(min=0), help="Only the N customers with the most value at risk.")
@output_options
def lapsed(inputs, as_of, contacts_paths, thresholds, include_at_risk, rule, below, new_since, require_consent,
           min_orders, min_spend, top, out):
    """The win-back list: lapsed customers, most value at risk first, with contacts and a next step.

    An empty list is not an error (a header only, exit 0), so a weekly cron job can run unattended.

    \b
        custlens lapsed examples/purchases.csv --contacts examples/contacts.csv -o winback.csv
        custlens lapsed examples/purchases.csv --contacts examples/contacts.csv --include-at-risk --top 50
        custlens lapsed orders.csv --contacts contacts.csv --as-of today --new-since 7d \\
            --require-consent -q -o winback-$(date +%F).xlsx
        custlens lapsed examples/purchases.csv --by probability --below 0.3
    """
    from . import engine, output
    from . import lifecycle as lifecycle_mod
    from . import rfm as rfm_mod
    from .lines import Lines

    # the DuckDB engine keeps the lines for the offers, favourite categories and last products
    fast = summarize_fast(inputs, as_of, days=True, needs_lines=lambda source: not engine.reads_products(source))
    purchases, result, contacts, settings, table = lifecycle_stages(inputs, as_of, thresholds, contacts_paths,
                                                                    fast=fast)
    if require_consent and (contacts is None or "consent" not in contacts):
        raise click.ClickException(
            "--require-consent needs contacts with a consent column: pass --contacts FILE "
            "(or map the column with [columns] consent = \"…\" in custlens.toml); no list was written")
    lines = Lines.of(purchases, fast, result)
    previous = listed = previously_listed = alive = None
    earlier = result.as_of - pd_timedelta(new_since) if new_since else None
    if rule == "probability":
        from . import clv as clv_mod

        def below_cut(day):
            cal = lines.calibration(day, unit="week")
            bgnbd = clv_mod.fit_bgnbd(cal)
            probability = pd_series(clv_mod.p_alive(bgnbd.params, cal["x"], cal["t_x"], cal["T"]), cal["customer_id"])
            return probability, set(probability.index[probability < below])

        alive, under = below_cut(result.as_of)
        listed = table["customer_id"].isin(under)
        if earlier is not None:
            previously_listed = sorted(below_cut(earlier)[1])
    elif earlier is not None:
        with lines.summary_at(earlier) as then:
            previous = lifecycle_mod.stages(then, contacts=contacts, thresholds=settings)
    scored = rfm_mod.Settings.from_config(inputs.config).apply(result.customers)
    segments = scored.set_index("customer_id")["segment"]
    candidates = table.loc[table["stage"].isin(["lapsed", "at_risk", "lost"]), "customer_id"]
    lines.read_products()  # with a progress bar of its own
    with output.status(f"choosing offers for {count(len(candidates), 'customer')}"):
        offers, favourites, last_products, note = lines.winback_details(candidates)
    if note:  # the list does not need the products: a cron job still gets it
        warn(f"warning: {note}")
    table = lifecycle_mod.winback(table, purchases, as_of=result.as_of, contacts=contacts, rfm_segments=segments,
                                  include_at_risk=include_at_risk, previous=previous,
                                  require_consent=require_consent, min_orders=min_orders, min_spend=min_spend,
                                  listed=listed, previously_listed=previously_listed, p_alive=alive,
                                  offers=offers, favourites=favourites, last_products=last_products)
    if top is not None:
        table = table.head(top)
    info(inputs, f"{count(len(table), 'customer')} on the win-back list as of {result.as_of:%Y-%m-%d}")
    out.emit(table, title=f"Win-back list as of {result.as_of:%Y-%m-%d}")


def pd_series(values, index):
    import pandas as pd

    return pd.Series(values, index=pd.Index(index))


def pd_timedelta(days: int):
    import pandas as pd

    return pd.Timedelta(days=days)


def load_other(paths, inputs: Inputs, loader_name: str):
    """Interactions or costs for a report: columns detected, [columns] from the config applied."""
    from . import io as io_mod
    from .io import LoadOptions

    kind = loader_name.removeprefix("load_")
    options = LoadOptions(columns=columns_for(inputs.config, kind), strict=inputs.options.strict,
                          map_with=f"[columns.{kind}]")
    frame, report = getattr(io_mod, loader_name)(list(paths), options)
    say(inputs, report.messages())
    return frame


@cli.command()
@input_options
@click.option("--before", "before_text", metavar="START..END", help="The period before the change.")
@click.option("--after", "after_text", metavar="START..END", help="The period after the change.")
@click.option("--split", type=AsOf(), help="The day the change began (with --window): after starts on it.")
@click.option("--window", type=Days(), help="Length of each period with --split, e.g. 90d.")
@click.option("--interactions", "interactions_paths", multiple=True, type=click.Path(),
              help="Support/survey interactions: adds NPS, CSAT, contacts per customer, share open.")
@click.option("--costs", "costs_paths", multiple=True, type=click.Path(),
              help="Costs (date, kind = acquisition|retention, amount): adds CAC and retention cost.")
@click.option("--stages", is_flag=True, help="Add the lifecycle stage counts at the end of each period.")
@click.option("--by", help="One table per group: a purchases column (channel, region, category) or a segment file.")
@click.option("--bootstrap", "resamples", type=click.IntRange(100, 100_000), default=2000, show_default=True,
              help="Bootstrap resamples for means and ratios.")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@output_options
def kpi(inputs, before_text, after_text, split, window, interactions_paths, costs_paths, stages, by, resamples,
        seed, out):
    """Compare KPIs before and after a change, and say which changes are real.

    Revenue, orders, customers, AOV, repeat purchase and retention rates, the share of returning
    customers buying more often, NPS and CSAT: before, after, change, 95% interval, p-value, verdict.

    \b
        custlens kpi examples/purchases.csv --before 2024-07-01..2024-12-31 --after 2025-01-01..2025-06-30
        custlens kpi examples/purchases.csv --split 2025-01-01 --window 90d --interactions examples/interactions.csv
        custlens kpi examples/purchases.csv --split 2025-01-01 --window 90d --by channel -o kpi.xlsx
        custlens kpi purchases.csv --split 2025-04-01 --window 90d --costs costs.csv --stages
    """
    from . import kpi as kpi_mod
    from . import lifecycle as lifecycle_mod
    from .io import load_segment_file

    if split is not None or window is not None:
        if split is None or window is None or before_text or after_text:
            raise click.UsageError("use --split DATE with --window N, or --before and --after")
        before, after = kpi_mod.split_periods(split, window)
    elif before_text and after_text:
        before = kpi_mod.parse_period(before_text, option="--before")
        after = kpi_mod.parse_period(after_text, option="--after")
    else:
        raise click.UsageError("give the periods: --before START..END --after START..END, or --split DATE --window N")
    options = dict(resamples=resamples, seed=seed)
    segments = load_segment_file(by) if by and os.path.exists(by) else None
    column = by if by and segments is None else None

    def needs_pandas(source) -> bool:  # a column DuckDB does not label as pandas
        from .engine import can_label

        return column is not None and not can_label(source, column)

    fast = summarize_fast(inputs, None, orders=False, needs_lines=needs_pandas)
    if fast is not None:  # the DuckDB engine computes both periods where it read the lines
        from .engine import kpi_periods

        span, *periods = kpi_periods(fast, before, after)
        warnings = kpi_mod.check_span(before, after, *span)
    else:  # summarize_fast said why, under --engine duckdb
        purchases, _ = load_purchases(inputs)
        warnings = kpi_mod.check_periods(before, after, purchases)
    for warning in warnings:
        warn(f"warning: {warning}")
    info(inputs, f"before: {before} ({count(before.days, 'day')}); after: {after} ({count(after.days, 'day')})")
    interactions = load_other(interactions_paths, inputs, "load_interactions") if interactions_paths else None
    costs = load_other(costs_paths, inputs, "load_costs") if costs_paths else None
    thresholds = lifecycle_mod.Thresholds.from_config(inputs.config) if stages else None
    skipped = []
    if fast is not None:
        stage_table = tuple(stage_counts_fast(fast, p.end, thresholds) for p in (before, after)) if stages else None
        table = kpi_mod.compare_periods(*periods, interactions=interactions, costs=costs, stages=stage_table,
                                        **options)
        if by:
            table, skipped = kpi_groups_fast(fast, table, before, after, column=column, segments=segments,
                                             interactions=interactions, thresholds=thresholds, **options)
    else:
        options.update(interactions=interactions, costs=costs, thresholds=thresholds)
        if by:
            labels = kpi_mod.group_labels(purchases, column=column, segments=segments)
            table, skipped = kpi_mod.compare_by(purchases, labels, before, after, **options)
        else:
            table = kpi_mod.compare(purchases, before, after, **options)
    for name, reason in skipped:
        warn(f"warning: {by} = {name}: {reason}; left out")
    out.emit(table, title=f"KPIs: {before} → {after}")


def kpi_groups_fast(fast, everybody, before, after, *, column, segments, interactions, thresholds=None, **options):
    """:func:`custlens.kpi.compare_by` by the DuckDB engine: ``everybody``'s table, then each
    group's (its lines labelled in SQL, its customers' interactions, with ``thresholds`` the stages
    of a summary of its lines alone)."""
    from . import kpi as kpi_mod
    from .engine import kpi_periods, label_customers, label_lines

    def group(name):
        span, *periods = kpi_periods(fast, before, after, label=name)
        kpi_mod.check_span(before, after, *span)
        talk = kpi_mod.interactions_of(interactions, label_customers(fast, name))
        stages = None
        if thresholds is not None:
            stages = tuple(stage_counts_fast(fast, p.end, thresholds, label=name) for p in (before, after))
        return kpi_mod.compare_periods(*periods, interactions=talk, stages=stages, **options)

    labels = label_lines(fast, role=column, segments=segments)
    return kpi_mod.combine_groups(everybody, ((name, lambda name=name: group(name)) for name in labels))


def stage_counts_fast(fast, day, thresholds, *, label: str | None = None):
    """:func:`custlens.kpi.stage_counts` on ``day`` by the DuckDB engine (the lines were checked
    already); with ``label``, of the lines of that group only."""
    from .engine import summary_at
    from .kpi import count_stages

    with summary_at(fast, day, label=label) as then:
        return count_stages(then, thresholds)


@cli.command()
@input_options
@as_of_option
@click.option("--period", type=click.Choice(["week", "month", "quarter"]), default="month", show_default=True)
@click.option("--metric", type=click.Choice(["retention", "revenue", "ltv"]), default="retention",
              show_default=True, help="retention: share active; revenue: per cohort customer; ltv: cumulative.")
@output_options
def cohorts(inputs, as_of, period, metric, out):
    """Acquisition cohorts by first-order period, followed period by period.

    Incomplete periods (the one the as-of date falls in, and later) are left empty, not shown as drops.

    \b
        custlens cohorts examples/purchases.csv --period month
        custlens cohorts examples/purchases.csv --period quarter --metric ltv
        custlens cohorts examples/purchases.csv --metric revenue -o cohorts.xlsx
    """
    from . import output
    from .cohorts import build_matrix, check_options, count_cohorts
    from .notes import summary_lines
    from .summary import resolve_as_of

    check_options(period, metric)
    fast = summarize_fast(inputs, as_of, orders=False)
    if fast is not None:  # the DuckDB engine counts the cohorts where it read the lines
        from .engine import cohort_counts

        counts = cohort_counts(fast, period=period, metric=metric)
    else:
        purchases, _ = load_purchases(inputs)
        with output.status(f"following cohorts in {count(len(purchases), 'line')}"):
            counts = count_cohorts(purchases, period=period, metric=metric, as_of=resolve_as_of(purchases, as_of))
    say(inputs, summary_lines(*counts.summary))  # before the matrix, which refuses a table without orders
    table = build_matrix(counts, period=period, metric=metric, as_of=counts.summary[1])
    info(inputs, f"{count(len(table), 'cohort')}; empty cells are periods not over by {counts.summary[1]:%Y-%m-%d}")
    out.emit(table, title=f"Cohorts by first {period}: {metric}")


@cli.command()
@input_options
@as_of_option
@click.option("--horizon", type=Months(), default="12m", show_default=True, help="CLV horizon: 12m, 2y…")
@click.option("--discount", type=click.FloatRange(0, 1), default=0.10, show_default=True,
              help="Annual discount rate for CLV.")
@click.option("--time-unit", type=click.Choice(["day", "week", "month"]), default="week", show_default=True,
              help="Unit of recency and T (a month is 30.4375 days).")
@click.option("--holdout", type=Days(), help="Fit on all but the last N days (e.g. 26w) and compare with them.")
@click.option("--params", "show_params", is_flag=True, help="The fitted parameters, log-likelihood and convergence.")
@output_options
def clv(inputs, as_of, horizon, discount, time_unit, holdout, show_params, out):
    """Predict each customer's purchases, probability of being alive and lifetime value.

    BG/NBD and Gamma-Gamma fitted by maximum likelihood on the purchases up to the as-of date.

    \b
        custlens clv examples/purchases.csv --horizon 12m --discount 0.10
        custlens clv examples/purchases.csv --holdout 26w
        custlens clv purchases.csv --as-of 1997-09-30 --params --format json
    """
    from . import clv as clv_mod

    # the calibration table (and the holdout's purchase days) from DuckDB when it reads the input
    fast = summarize_fast(inputs, as_of, orders=False)
    purchases = None
    if fast is not None:
        from . import engine

        end = pd_timestamp(fast.as_of)
    else:
        purchases, _ = load_purchases(inputs)
        end = pd_timestamp(as_of) if as_of else purchases["order_date"].max().normalize()

    from .lines import Lines

    lines = Lines(as_of=end, purchases=purchases, fast=fast)
    if not holdout:
        info(inputs, f"calibration up to {end:%Y-%m-%d}, in {time_unit}s")
        cal = lines.calibration(end, unit=time_unit)
        return _clv_report(clv_mod.fit_calibration(cal, end=end, unit=time_unit), cal, show_params, horizon,
                           discount, out)
    calibration_end = end - pd_timedelta(holdout)
    info(inputs, f"calibration up to {calibration_end:%Y-%m-%d}, holdout to {end:%Y-%m-%d} "
                 f"({count(holdout, 'day')})")
    cal = lines.calibration(calibration_end, unit=time_unit)
    model = clv_mod.fit_calibration(cal, end=calibration_end, unit=time_unit)
    if fast is not None:
        actual = engine.purchase_days(fast, cal["customer_id"], after=calibration_end.date(), end=end.date())
    else:
        actual = clv_mod.purchase_days(purchases, cal["customer_id"], after=calibration_end, end=end)
    table, summary = clv_mod.holdout_table(model, cal, actual, length_days=holdout)
    _clv_warnings(model)
    info(inputs, f"holdout purchases: {summary['total_actual']:,.0f} actual, {summary['total_predicted']:,.1f} "
                 f"predicted; mean absolute error {summary['mae']:.3f} per customer")
    out.emit(table, title="Holdout purchases by calibration frequency")


def _clv_report(model, cal, show_params: bool, horizon: int, discount: float, out: Output) -> None:
    """The fitted parameters (--params) or the per-customer predictions, after the fit's warnings."""
    from . import clv as clv_mod
    from . import output

    _clv_warnings(model)
    if show_params:
        output.emit_object(model.params(), fmt=out.fmt, path=out.path, title="Fitted parameters")
        return
    out.emit(clv_mod.predict(model, cal, horizon_months=horizon, discount=discount),
             title=f"CLV over {count(horizon, 'month')} at {discount:.0%} a year")


def _clv_warnings(model) -> None:
    for name, fitted in (("BG/NBD", model.bgnbd), ("Gamma-Gamma", model.gamma_gamma)):
        if not fitted.converged:
            warn(f"warning: the {name} fit did not converge cleanly: {fitted.message}; see --params")
    if model.gamma_gamma.params["q"] <= 1:
        warn("warning: Gamma-Gamma q ≤ 1: spend varies too much between customers for a population mean; "
             "one-purchase customers get the mean repeat spend instead")
    if abs(model.spend_correlation) > 0.3:
        warn(f"warning: frequency and spend are correlated (r = {model.spend_correlation:.2f}); the Gamma-Gamma "
             "model assumes they are not, so expected spend may be biased")


@cli.command()
@input_options
@as_of_option
@click.option("--top", type=click.IntRange(1, 100), default=3, show_default=True, help="Products per customer.")
@click.option("--method", type=click.Choice(["lift", "cosine", "popular"]), default="lift", show_default=True,
              help="How products are related (popular: no relation, the baseline).")
@click.option("--min-support", type=click.IntRange(min=1), default=2, show_default=True,
              help="Ignore product pairs bought together by fewer customers.")
@click.option("--customers", "customers_file", type=click.Path(dir_okay=False),
              help="Only these customers: a file with a customer_id column (e.g. a win-back list).")
@click.option("--category", help="Only recommend products of this category.")
@click.option("--explain", is_flag=True, help="Add the reason: because you bought X.")
@click.option("--evaluate", is_flag=True, help="Hide each customer's last order and measure hit rate vs popularity.")
@output_options
def recommend(inputs, as_of, top, method, min_support, customers_file, category, explain, evaluate, out):
    """Recommend products each customer has not bought, from what similar baskets hold.

    \b
        custlens recommend examples/purchases.csv --top 3 -o offers.csv
        custlens recommend examples/purchases.csv --customers winback.csv --explain
        custlens recommend examples/purchases.csv --evaluate
    """
    from . import engine, output
    from . import recommend as rec
    from .lines import Lines

    # the DuckDB engine builds the baskets where the lines are
    fast = summarize_fast(inputs, as_of, gaps=False, needs_lines=lambda source: not engine.reads_products(source))
    purchases, result = load_summary(inputs, as_of, fast=fast)
    if evaluate:
        options = {"top": top, "method": method if method != "popular" else "lift", "min_support": min_support}
        if fast is not None:  # each repeat customer's last day taken out of the lines in DuckDB
            lines = engine.product_lines(fast)
            truth = engine.hide_last_days(lines)
            table = rec.evaluate_basket(engine.basket(lines), truth, **options)
        else:
            table = rec.evaluate(purchases[(purchases["order_date"].dt.normalize() <= result.as_of).to_numpy()],
                                 **options)
        best, baseline = table["hit_rate"].iloc[0], table["hit_rate"].iloc[1]
        if table["customers"].iloc[0]:
            info(inputs, f"hit rate@{top}: {best:.1%} against {baseline:.1%} for the most popular products")
        else:
            warn("warning: no customer with a product bought on two days or more: no hidden last order to "
                 "evaluate on, so no hit rate")
        out.emit(table, title=f"Recommendations: hit rate@{top} on each customer's hidden last order")
        return
    wanted = None
    if customers_file:
        from .io.read import ReadOptions, read_table

        raw = read_table(customers_file, ReadOptions()).frame
        column = next((c for c in raw.columns if c.strip().lower() in ("customer_id", "customer")), raw.columns[0])
        wanted = raw[column].astype("string").str.strip()
    lines = Lines.of(purchases, fast, result)
    lines.read_products()  # with a progress bar of its own
    with output.status("recommending"):
        basket = lines.basket(required=True)
        table = rec.recommend(basket, top=top, method=method, min_support=min_support, customers=wanted,
                              category=category, explain=explain)
    out.emit(table, title="Recommendations")


@cli.command()
@click.argument("paths", nargs=-1, required=True, metavar="INTERACTIONS...")
@click.option("--purchases", "purchase_paths", multiple=True, type=click.Path(),
              help="Purchases: adds spend in the 90 days before and after each contact.")
@click.option("--by", type=click.Choice(["channel", "touchpoint", "type"]), default="channel", show_default=True)
@click.option("--period", type=click.Choice(["week", "month", "quarter"]), help="Add the trend per period.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Settings file.")
@click.option("-q", "--quiet", is_flag=True, help="Print only warnings and errors on stderr.")
@output_options
def touchpoints(paths, purchase_paths, by, period, config_path, quiet, out):
    """Which touchpoints leave customers happy: CSAT, NPS, open share and resolution time per group.

    \b
        custlens touchpoints examples/interactions.csv --purchases examples/purchases.csv
        custlens touchpoints examples/interactions.csv --by touchpoint --period month -o touchpoints.xlsx
    """
    from . import touchpoints as tp
    from .config import load_config
    from .io import LoadOptions

    config = load_config(config_path)
    inputs = Inputs(paths=tuple(purchase_paths), options=LoadOptions(columns=columns_for(config, "purchases")),
                    rejects=None, quiet=quiet, config=config)
    interactions = load_other(paths, inputs, "load_interactions")
    purchases = load_purchases(inputs)[0] if purchase_paths else None
    table = tp.quality(interactions, by=by, period=period, purchases=purchases)
    small = int(table["small_n"].sum())
    if small:
        info(inputs, f"{count(small, 'row')} with fewer than 30 contacts or answers: flagged small_n, read with care")
    out.emit(table, title=f"Touchpoints by {by}")


@cli.command()
@click.argument("customer_id", required=False)
@click.option("--purchases", "purchase_paths", multiple=True, required=True, type=click.Path(),
              help="Purchases file(s).")
@click.option("--contacts", "contacts_paths", multiple=True, type=click.Path(), help="Contacts file(s).")
@click.option("--interactions", "interactions_paths", multiple=True, type=click.Path(), help="Interactions file(s).")
@click.option("--email", help="Find the customer by e-mail.")
@click.option("--phone", help="Find the customer by phone (+7/8 prefixes and spacing ignored).")
@click.option("--name", "name_part", help="Find the customer by part of the name.")
@as_of_option
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Settings file.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), help="Default: table on a terminal, else json.")
@click.option("-o", "--output", "path", type=OutputFile(), help="Write the card as JSON to FILE (- is stdout).")
@click.option("-q", "--quiet", is_flag=True, help="Print only warnings and errors on stderr.")
@click.option("--engine", type=click.Choice(ENGINES),
              help="duckdb reads only this customer's lines besides the summary; pandas reads them all; "
                   "auto (default): duckdb when it can.")
def card(customer_id, purchase_paths, contacts_paths, interactions_paths, email, phone, name_part, as_of,
         config_path, fmt, path, quiet, engine):
    """One customer at a glance: details, value, last purchases, open questions, what to offer.

    \b
        custlens card C000123 --purchases examples/purchases.csv --contacts examples/contacts.csv \\
            --interactions examples/interactions.csv
        custlens card --email george.roberts0@example.org --purchases examples/purchases.csv \\
            --contacts examples/contacts.csv
        custlens card C000123 --purchases examples/purchases.csv --format json
    """
    import json

    from . import card as card_mod
    from . import lifecycle as lifecycle_mod
    from . import output
    from . import recommend as rec
    from . import rfm as rfm_mod
    from .config import load_config
    from .io import LoadOptions
    from .lines import Lines

    if sum(x is not None for x in (customer_id, email, phone, name_part)) != 1:
        raise click.UsageError("give one of: CUSTOMER_ID, --email, --phone, --name")
    from . import engine as engine_mod

    config = load_config(config_path)
    load = config.get("load", {})
    inputs = Inputs(paths=tuple(purchase_paths), options=LoadOptions(columns=columns_for(config, "purchases")),
                    rejects=None, quiet=quiet, config=config, engine=engine or load.get("engine", "auto"),
                    memory_limit=load.get("memory_limit"))
    # DuckDB: the summary and the baskets from aggregates, then the lines of the one customer shown
    fast = summarize_fast(inputs, as_of, days=True, needs_lines=lambda source: not engine_mod.reads_products(source))
    purchases, result = load_summary(inputs, as_of, fast=fast)
    contacts = load_contacts_file(contacts_paths, inputs) if contacts_paths else None
    interactions = load_other(interactions_paths, inputs, "load_interactions") if interactions_paths else None
    known = engine_mod.customer_ids(fast) if fast is not None else purchases["customer_id"]
    who = card_mod.find_customer(known, contacts, customer_id=customer_id, email=email, phone=phone, name=name_part)
    stages = lifecycle_mod.stages(result, contacts=contacts,
                                  thresholds=lifecycle_mod.Thresholds.from_config(config))
    scored = rfm_mod.Settings.from_config(config).apply(result.customers)
    try:
        basket = Lines.of(purchases, fast, result).basket()
    except rec.NoProductLines as e:  # the card does not need them
        warn(f"warning: {e}: the card recommends nothing")
        basket = None
    offers = rec.recommend(basket, top=3, customers=[who], explain=True) if basket is not None else None
    mine = engine_mod.customer_lines(fast, who) if fast is not None else purchases
    content = card_mod.build(who, purchases=mine, summary=result, stages=stages, rfm=scored, contacts=contacts,
                             interactions=interactions, recommendations=offers)
    if path or fmt == "json" or (fmt is None and not sys.stdout.isatty()):
        text = json.dumps(content, ensure_ascii=False, indent=1) + "\n"
        if path:
            output.write_atomic(path, lambda fh: fh.write(text.encode("utf-8")))
            info(inputs, f"wrote the card of {who} to {path}")
        else:
            click.echo(text, nl=False)
    else:
        output.render_card(content)


@cli.command()
@input_options
@as_of_option
@contacts_option
@click.option("--interactions", "interactions_paths", multiple=True, type=click.Path(),
              help="Interactions: adds touchpoint CSAT/NPS (and NPS/CSAT to the KPIs).")
@click.option("--before", "before_text", metavar="START..END", help="Adds the before/after KPIs (with --after).")
@click.option("--after", "after_text", metavar="START..END")
@click.option("--split", type=AsOf(), help="Adds the before/after KPIs around DATE (with --window).")
@click.option("--window", type=Days(), help="Length of each period with --split, e.g. 90d.")
@click.option("--k", "k", type=KChoice(), default="auto", show_default=True, help="k-means segments: auto or N.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for k-means and the bootstrap.")
@click.option("-o", "--output", "path", type=click.Path(dir_okay=False), required=True,
              help="report.html (one self-contained page) or report.xlsx (one sheet per section).")
def report(inputs, as_of, contacts_paths, interactions_paths, before_text, after_text, split, window, k, seed, path):
    """Everything in one file: an HTML page with charts, or an XLSX workbook with a sheet per section.

    \b
        custlens report examples/purchases.csv --contacts examples/contacts.csv \\
            --interactions examples/interactions.csv -o report.html
        custlens report examples/purchases.csv --split 2025-01-01 --window 90d -o report.html
        custlens report examples/purchases.csv -o report.xlsx
    """
    from . import kpi as kpi_mod
    from . import output
    from . import report as report_mod

    kind = os.path.splitext(path)[1].lower()
    if kind not in (".html", ".htm", ".xlsx"):
        raise click.UsageError(f"-o {path}: write the report to a .html or .xlsx file")
    periods = None
    if split is not None or window is not None:
        if split is None or window is None:
            raise click.UsageError("use --split DATE with --window N")
        periods = kpi_mod.split_periods(split, window)
    elif before_text or after_text:
        if not (before_text and after_text):
            raise click.UsageError("give both --before and --after")
        periods = (kpi_mod.parse_period(before_text, option="--before"),
                   kpi_mod.parse_period(after_text, option="--after"))
    from . import engine
    from .schema import LABEL_ROLES

    # DuckDB aggregates the lines for each section where it reads the products and labels as pandas does
    fast = summarize_fast(inputs, as_of, days=True, needs_lines=lambda source: not (
        engine.reads_products(source) and labels_readable(source, LABEL_ROLES)))
    purchases = None
    if fast is not None:
        result = engine.to_pandas(fast)
        loaded = fast.load_messages()[1:]  # after the line on the files read
    else:
        from .summary import customers

        purchases, report = load_purchases(inputs)  # reports on stderr and writes --rejects, as every command
        result = customers(purchases, as_of=as_of)
        say(inputs, result.messages())
        loaded = report.messages()[len(report.sources):]
    from .lines import Lines

    lines = Lines.of(purchases, fast, result)
    if periods is not None:
        for warning in lines.periods(*periods)[0]:
            warn(f"warning: {warning}")
    contacts = load_contacts_file(contacts_paths, inputs) if contacts_paths else None
    interactions = load_other(interactions_paths, inputs, "load_interactions") if interactions_paths else None
    notes = [text.strip() for _, text in loaded] + [text for _, text in result.messages()[1:]]
    sections = report_mod.build(lines, result, load_notes=notes, contacts=contacts, interactions=interactions,
                                periods=periods, config=inputs.config, k=k, seed=seed, charts=kind != ".xlsx")
    if kind == ".xlsx":
        output.write_atomic(path, lambda fh: report_mod.write_workbook(sections, fh))
    else:
        files = ", ".join(inputs.paths)
        page = report_mod.render_html(sections, title="Customer report",
                                      subtitle=f"{files} · as of {result.as_of:%Y-%m-%d} · "
                                               f"{count(len(result.customers), 'customer')}")
        output.write_atomic(path, lambda fh: fh.write(page.encode("utf-8")))
    info(inputs, f"wrote {path} ({count(len(sections), 'section')})")


@cli.command()
@input_options
@as_of_option
@click.option("--k", "k", type=KChoice(), default="auto", show_default=True,
              help="Number of segments, or auto: the best silhouette for k = 2..10.")
@click.option("--features", help="Comma-separated: recency, frequency, monetary, tenure, aov (the default), "
                                 "category_shares, channel_shares.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed: same data, same seed, same bytes.")
@click.option("--summary", "view_summary", is_flag=True,
              help="The profile table (the default on a terminal): size, revenue share, medians, top categories.")
@click.option("--show-k", is_flag=True, help="k against silhouette, Davies–Bouldin and inertia.")
@click.option("--vs-rfm", is_flag=True, help="Crosstab of these segments against the RFM segments.")
@click.option("--save-model", type=click.Path(dir_okay=False), help="Save the segments as JSON for --model.")
@click.option("--model", "model_path", type=click.Path(dir_okay=False),
              help="Apply saved segments to new data (nearest centroid, no refit).")
@output_options
def segment(inputs, as_of, k, features, seed, view_summary, show_k, vs_rfm, save_model, model_path, out):
    """Find behavioural segments with k-means, and re-apply them week after week.

    Segment 1 is the most valuable; names come from how each segment differs from everybody
    ("high value · frequent · recent"). Save the model once, then apply it in cron with --model.

    \b
        custlens segment examples/purchases.csv
        custlens segment examples/purchases.csv --k 5 --features recency,frequency,monetary,tenure,aov
        custlens segment examples/purchases.csv --k auto --show-k
        custlens segment examples/purchases.csv --save-model segments.json -o segments.csv
        custlens segment new-week.csv --model segments.json
        custlens segment examples/purchases.csv --vs-rfm
    """
    from . import output
    from . import rfm as rfm_mod
    from . import segments as seg

    _one_view(summary=view_summary, show_k=show_k, vs_rfm=vs_rfm)
    if model_path and (show_k or save_model or features or k != "auto"):
        raise click.UsageError("--model applies saved segments: --k, --features, --show-k and --save-model "
                               "belong to fitting")
    chosen = seg.parse_features(features)
    model = seg.read_model(model_path) if model_path else None
    wanted = {seg.SHARE_FEATURES[f] for f in (model.features if model else chosen) if f in seg.SHARE_FEATURES}
    from .lines import Lines

    roles = sorted(wanted | {"category"})
    fast = summarize_fast(inputs, as_of, needs_lines=lambda source: not labels_readable(source, roles))
    purchases, result = load_summary(inputs, as_of, fast=fast)
    values = Lines.of(purchases, fast, result).label_values(roles)
    if model_path:
        table = seg.assign(model, result.customers, values)
        silhouettes = None
        info(inputs, f"applied {count(model.k, 'segment')} from {model_path} "
                     f"(fitted on {model.fitted_on.get('customers', '?')} customers as of "
                     f"{model.fitted_on.get('as_of', '?')})")
    else:
        fitted_on = {"rows": result.lines, "customers": len(result.customers), "as_of": f"{result.as_of:%Y-%m-%d}",
                     "first_order": _day_text(result.customers["first_order"].min()),
                     "last_order": _day_text(result.customers["last_order"].max()),
                     "files": [str(p) for p in inputs.paths]}
        fit = seg.fit(result.customers, values, features=chosen, k=k, seed=seed, fitted_on=fitted_on)
        model, table, silhouettes = fit.model, fit.customers, fit.sample_silhouettes
        info(inputs, fit.reason)
        if save_model:
            output.write_json(model.to_json(), save_model)
            info(inputs, f"saved the model to {save_model}")
        if show_k:
            out.emit(fit.k_scores, title="Choosing k")
            return
    if vs_rfm:
        settings = rfm_mod.Settings.from_config(inputs.config)
        scored = settings.apply(result.customers)
        out.emit(seg.crosstab(table, scored.set_index("customer_id")["segment"], rfm_mod.segment_order(settings.rules)),
                 title="k-means segments × RFM segments")
        return
    terminal_default = not out.path and not out.fmt and sys.stdout.isatty()
    if view_summary or terminal_default:
        title = f"{count(model.k, 'segment')}" + (f" · silhouette {model.silhouette:.3f}" if silhouettes is not None
                                                   else "")
        out.emit(seg.profile(table, model, categories=values.get("category"), silhouettes=silhouettes), title=title)
    else:
        out.emit(table, title="Segments")


@cli.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--kind", type=click.Choice(["purchases", "contacts", "interactions", "costs"]),
              help="What the file holds (default: guessed from its columns).")
@click.option("--map", "column_map", multiple=True, callback=_parse_map, metavar="ROLE=COLUMN",
              help="Use COLUMN for ROLE. Repeatable.")
@click.option("--encoding", help="Text encoding (default: detected).")
@click.option("--delimiter", "--sep", "delimiter", help="CSV delimiter (default: detected).")
@click.option("--decimal", type=click.Choice([".", ","]), help="Decimal mark (default: detected).")
@click.option("--date-format", help="strptime format of the dates (default: detected).")
@click.option("--sheet", help="XLSX sheet name or number.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def inspect(paths, kind, column_map, encoding, delimiter, decimal, date_format, sheet, fmt):
    """Show what custlens detects in a file: format, encoding, columns and their roles, problems.

    Exits 1 when the file could not be used for reports (the reason is listed).

    \b
        custlens inspect examples/ru/purchases.csv
        custlens inspect export.xlsx --sheet 2 --format json
        custlens inspect contacts.csv --kind contacts
    """
    from . import output
    from .io import LoadOptions
    from .io.inspect import inspect as run_inspect

    options = LoadOptions(columns=column_map, encoding=encoding, delimiter=_unescape(delimiter), decimal=decimal,
                          date_format=date_format, sheet=sheet)
    result = inspect_fast(list(paths), options) if kind in (None, "purchases") else None
    if not isinstance(result, dict):
        why = result
        result = run_inspect(list(paths), options, kind=kind)
        if result["ok"] and result["kind"] == "purchases":
            result["engine"] = f"pandas ({why})" if why else engine_for(list(paths), options)
    if fmt == "json":
        import json

        click.echo(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        output.render_inspection(result)
    if not result["ok"]:
        sys.exit(1)


def inspect_fast(paths: list[str], options) -> dict | str | None:
    """``inspect`` of purchase files by the DuckDB engine (files larger than memory too); else
    why the engine cannot take them, or None when they may not be purchases (the pandas loader
    then looks)."""
    from . import engine
    from .io.inspect import guess_kind

    try:
        source = engine.open_source(paths, options)
        if guess_kind(source.all_columns).kind != "purchases":
            return None
        return {**engine.inspect(source), "engine": "duckdb"}
    except engine.Unsupported as e:
        return str(e)
    except CustlensError:  # the loader says what is wrong, in its own words
        return None


def engine_for(paths: list[str], options) -> str:
    """Which engine ``--engine auto`` uses for a summary of these purchases, and why."""
    from . import engine

    try:
        engine.summarize(engine.open_source(paths, options))
    except engine.Unsupported as e:
        return f"pandas ({e})"
    return "duckdb"


@cli.command("sample-data")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--customers", default=2000, show_default=True, type=click.IntRange(1, 5_000_000),
              help="Number of customers who buy (prospects are added to contacts).")
@click.option("--seed", default=7, show_default=True, type=int, help="Random seed: same seed, same files.")
@click.option("--locale", type=click.Choice(["en", "ru"]), default="en", show_default=True,
              help="ru: cp1251, ';', decimal commas, dd.mm.yyyy, Russian headers.")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
def sample_data(folder, customers, seed, locale, fmt, quiet):
    """Write realistic demo data: purchases, contacts and interactions.

    \b
        custlens sample-data demo/ --customers 20000 --seed 7
        custlens sample-data demo-ru/ --locale ru
        custlens sample-data big/ --customers 500000 --format parquet
    """
    from . import sampledata

    data = sampledata.generate(customers, seed=seed, locale=locale)
    for path in sampledata.write(data, folder, locale=locale, fmt=fmt):
        rows = len(getattr(data, path.stem))
        info(quiet, f"wrote {path} ({count(rows, 'row')})")


def _day_text(value) -> str | None:
    """``yyyy-mm-dd``, or None for no date (NaT: a table without customers)."""
    import pandas as pd

    return None if pd.isna(value) else f"{value:%Y-%m-%d}"


def main():  # pragma: no cover - console script entry
    cli(prog_name="custlens")
