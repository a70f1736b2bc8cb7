"""How every output file is written: to a temporary name beside it, renamed over it when complete, removed on
any failure. A reader never sees half a file, a failed write leaves the previous file as it was and no
temporary file behind, and a full disk or an unwritable folder is one line (exit 4)."""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from dwi.config import pid_alive
from dwi.errors import EXIT_IO, DwiError

FULL = (errno.ENOSPC, errno.EDQUOT)


def _os_error(exc: BaseException | None) -> OSError | None:
    """The OSError behind `exc`: itself, what it wraps (XlsxWriter's FileCreateError holds it as its
    argument), its cause or context."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError):
            return exc
        wrapped = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        exc = wrapped or exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return None


def write_error(path: Path, exc: BaseException) -> DwiError | None:
    """The one-line error for a failed write of `path` (exit 4); None when `exc` is not about the disk."""
    found = _os_error(exc)
    text = str(exc)
    if (found is not None and found.errno in FULL) or "No space left on device" in text or "quota exceeded" in text:
        return DwiError(
            f"disk full writing {path}: nothing was replaced (the previous file, if any, is as it was); free some "
            "space and try again",
            EXIT_IO,
        )
    if found is not None:
        return DwiError(f"cannot write {path}: {found.strerror or found}; nothing was replaced", EXIT_IO)
    return None


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` (`.<name>.<pid>.<thread>.tmp`) for the block to write; renamed over
    `path` when the block ends, removed when it fails however (the previous file stays as it was). An error
    of the disk (full, read-only, not allowed) becomes one DwiError naming `path`, exit 4. Temporary files of
    `path` left by processes that were killed are removed first."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
            pid = old.name[len(path.name) + 2 :].split(".")[0]
            if not pid_alive(int(pid) if pid.isdigit() else 0):
                old.unlink(missing_ok=True)
        yield tmp
        tmp.replace(path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        error = write_error(path, exc)
        if error is None:
            raise
        raise error from None


def write_text(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` through `replacing`."""
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
