"""Every file jaxrsa writes goes through here: atomic, so a kill never destroys a good file.

A file is written to a hidden temporary file in the same directory (``.NAME.tmp-PID``), flushed
and fsynced, then renamed over ``NAME`` with `os.replace` (atomic on POSIX and Windows), and the
directory is fsynced. A reader therefore sees the old file or the new one, never a part. A run
killed mid-write leaves only its temporary file; the next write into that directory removes the
temporary files whose writer process is gone.
"""

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_TEMPORARY = re.compile(r"(?P<target>.+)\.tmp-(?P<pid>\d+)(?P<suffix>\.[A-Za-z0-9]+)?")
"""Temporary files: ``.NAME.tmp-PID`` (and ``ROOT.tmp-PID.EXT``, the figures of jaxrsa <= 0.1)."""


def temporary_path(path: Path) -> Path:
    """Where `path` is written before it is renamed into place."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's live process, or no way to tell: keep its file
    return True


def remove_stale(directory: str | os.PathLike) -> list[Path]:
    """Remove the temporary files of writers that are no longer running; return them."""
    directory = Path(directory)
    removed = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for path in directory.iterdir():
            match = _TEMPORARY.fullmatch(path.name)
            if match and path.is_file() and not _alive(int(match["pid"])):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def _fsync_directory(directory: Path) -> None:
    if os.name != "posix":  # directories cannot be opened for fsync elsewhere
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary file to write `path` through; it replaces `path` when the block ends normally.

    If the block raises, `path` is left as it was and the temporary file is removed. The
    directory is created if needed, and stale temporary files in it are removed first.

    Args:
        path: the file to (re)write.

    Yields:
        an open binary file (seekable, so `numpy.savez` and `Figure.savefig` can write to it).

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from jaxrsa._files import atomic_open
        >>> path = Path(tempfile.mkdtemp()) / "out.txt"
        >>> with atomic_open(path) as f:
        ...     _ = f.write(b"done")
        >>> path.read_bytes()
        b'done'
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a directory, expected a file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path.parent)
    tmp = temporary_path(path)
    try:
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_directory(path.parent)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically; return the path."""
    with atomic_open(path) as f:
        f.write(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically; return the path."""
    return write_bytes(path, text.encode("utf-8"))
