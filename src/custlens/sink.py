"""Where output goes, without pandas: the format from --format or the extension, and atomic
file writes (a temporary file beside the target, renamed into place)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import OutputError
from .formats import EXTENSIONS


def choose_format(fmt: str | None, path: str | None, stdout_is_tty: bool, *, option: str | None = None) -> str:
    """--format wins; else the extension of -o; else table on a terminal, csv elsewhere. ``option``:
    the file is another option's (--rejects), which has no --format of its own."""
    if fmt:
        return fmt
    if path:
        ext = Path(path).suffix.lower()
        if ext not in EXTENSIONS:
            raise OutputError(
                f"{option + ' ' if option else ''}{path}: cannot tell the format from the extension "
                f"{ext or '(none)'!r}; use one of {', '.join(sorted(EXTENSIONS))}{'' if option else ' or pass --format'}"
            )
        return EXTENSIONS[ext]
    return "table" if stdout_is_tty else "csv"


def isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def write_atomic(path: str, writer, *, binary: bool = True) -> None:
    """Call ``writer(fh)`` on a temporary file next to ``path``, then rename it into place."""

    def write(fd: int, tmp: str) -> None:
        with os.fdopen(fd, "wb" if binary else "w") as fh:
            writer(fh)

    _replace_atomically(path, write)


def write_atomic_path(path: str, writer) -> None:
    """:func:`write_atomic` for writers that take a file name (DuckDB's COPY): ``writer(tmp_path)``."""

    def write(fd: int, tmp: str) -> None:
        os.close(fd)
        writer(tmp)

    _replace_atomically(path, write)


def _replace_atomically(path: str, write) -> None:
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.exists():
        raise OutputError(f"{path}: the folder {str(folder)!r} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise OutputError(f"{path}: cannot be written ({e.strerror})") from e
    try:
        write(fd, tmp)
        os.chmod(tmp, _file_mode(target))
        os.replace(tmp, target)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot be written ({e.strerror or e})") from e
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _file_mode(target: Path) -> int:
    """The mode a new file would get (0666 less the umask), or the one the replaced file had:
    mkstemp's private 0600 must not leak into the result."""
    if target.exists():
        return target.stat().st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
