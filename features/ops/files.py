"""Files that hold personal data, keys or the audit trail are created readable by their owner
only (0600); SQLite gives a database's -wal and -shm files the database file's mode."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def touch_private(path: str | Path) -> Path:
    """Create `path` empty with mode 0600 unless it exists (an existing file keeps its mode).

    An existing file is never opened: closing any descriptor of a SQLite database drops the
    process's locks on it (POSIX), and another thread may be writing to it."""
    path = Path(path)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return path


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` through a 0600 temporary file swapped in atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)  # a leftover temporary file from before keeps its mode otherwise
    tmp.replace(path)  # atomic: a server never reads a half-written file
