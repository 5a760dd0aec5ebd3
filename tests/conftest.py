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
