# make demo: set up .venv and run the main report on the example data.
# make test: set up .venv with the test extras and run the whole test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench bench-peers bench-1e8 examples clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/custlens inspect examples/ru/purchases.csv
	$(BIN)/custlens summary examples/purchases.csv --sort -monetary --limit 10 --format table
	$(BIN)/custlens rfm examples/purchases.csv --summary --format table
	$(BIN)/custlens pareto examples/ru/purchases.csv --portrait --contacts examples/ru/contacts.csv --format table
	$(BIN)/custlens segment examples/purchases.csv --summary --format table
	$(BIN)/custlens lifecycle examples/purchases.csv --contacts examples/contacts.csv --summary --format table
	$(BIN)/custlens lapsed examples/purchases.csv --contacts examples/contacts.csv --new-since 7d --format table
	$(BIN)/custlens kpi examples/purchases.csv --split 2025-01-01 --window 90d --interactions examples/interactions.csv --format table
	$(BIN)/custlens card C000147 --purchases examples/purchases.csv --contacts examples/contacts.csv --interactions examples/interactions.csv --format table
	$(BIN)/custlens report examples/purchases.csv --contacts examples/contacts.csv --interactions examples/interactions.csv --split 2025-01-01 --window 90d -o report.html
	@echo "open report.html in a browser: the whole report in one file"

test: $(STAMP)
	-@sh scripts/ensure-chromium
	$(BIN)/python -m pytest -n auto

# make bench: start-up, custlens next to the hand-written baselines (1e6 and 1e7 lines, CSV and
# Parquet), the reports on realistic sample data, CLV on CDNOW. Results go to bench/RESULTS.md by hand.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/bench_startup.py
	$(BIN)/python bench/bench_peers.py --sizes 1e6,1e7 --line-reports $(PEERS)
	$(BIN)/python bench/bench_reports.py
	$(BIN)/python bench/bench_clv.py

# make bench-peers: also time lifetimes and pymc-marketing, each in a venv of its own (downloads them)
bench-peers: $(STAMP)
	test -x .bench-venvs/lifetimes/bin/python || ($(PYTHON) -m venv .bench-venvs/lifetimes && \
	  .bench-venvs/lifetimes/bin/pip install --quiet lifetimes pandas pyarrow)
	test -x .bench-venvs/pymc/bin/python || ($(PYTHON) -m venv .bench-venvs/pymc && \
	  .bench-venvs/pymc/bin/pip install --quiet pymc-marketing pyarrow)
	$(MAKE) bench PEERS="--lifetimes .bench-venvs/lifetimes/bin/python --pymc .bench-venvs/pymc/bin/python"

# make bench-1e8: out of core, 100 million lines (~1.5 GB Parquet; writes ~5 GB of data first)
bench-1e8: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/bench_peers.py --sizes 1e8 --formats parquet --runs 3 --only "custlens summary,custlens rfm,DuckDB"

examples: $(STAMP)
	$(BIN)/custlens sample-data examples --customers 2000 --seed 42 -q
	$(BIN)/custlens sample-data examples/ru --customers 2000 --seed 42 --locale ru -q

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
