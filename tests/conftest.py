from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import settings

from custlens.cli import cli

# Same examples on every run: a failure seen once is seen again.
settings.register_profile("custlens", derandomize=True, deadline=None, max_examples=60)
settings.load_profile("custlens")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(autouse=True)
def _order_days_from_keys(monkeypatch):
    """The DuckDB summary of Parquet finds order days from keys from 2 million lines on
    (engine.KEY_MIN_LINES): here on every file, so that every test of Parquet without order ids
    checks that path (test_order_days checks the bound)."""
    from custlens import engine

    monkeypatch.setattr(engine, "KEY_MIN_LINES", 1)


@pytest.fixture
def progress_labels(monkeypatch) -> list[str]:
    """The labels the DuckDB engine's statements are run under (engine.run_with_progress, which
    this records instead of drawing), in order."""
    from custlens import engine

    seen: list[str] = []

    def record(con, sql, *, label, delay=0.5, fetch=None):
        seen.append(label)
        con.execute(sql)
        return None if fetch is None else fetch(con)

    monkeypatch.setattr(engine, "run_with_progress", record)
    return seen


@pytest.fixture(autouse=True)
def _no_color(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("CUSTLENS_DEBUG", raising=False)


@pytest.fixture
def run():
    """Invoke the CLI in-process; stdout and stderr kept apart."""

    def invoke(*args, input=None, catch=True):
        return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=catch)

    return invoke


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def stderr_on_a_terminal(code: str) -> bytes:
    """What ``python -c code`` writes to stderr when stderr is a terminal (a pty), colours allowed."""
    import os
    import pty
    import subprocess
    import sys

    leader, follower = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TERM": "xterm", "COLUMNS": "200"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen([sys.executable, "-c", code], stderr=follower, stdout=subprocess.DEVNULL, env=env)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    assert process.wait() == 0
    return seen
