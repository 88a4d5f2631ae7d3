"""Files and folders holding personal data or secrets: created readable by their owner only.

The database (applicants' names and phones, password hashes), the working folder `var/`, the
outbox of digests and the exports the product writes are created 0600 (files) and 0700 (folders),
whatever the umask. Files and folders that exist already keep the mode their owner gave them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: str | Path) -> Path:
    """Create `path` and each missing parent as 0700 folders; an existing folder is left as it is."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(d, DIR_MODE)  # exactly, whatever the umask
    return path


def private_file(path: str | Path) -> Path:
    """Create an empty 0600 file at `path` if none exists (a database SQLite will then open)."""
    path = Path(path)
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return path
    os.fchmod(fd, FILE_MODE)
    os.close(fd)
    return path


def open_private(path: str | Path, mode: str = "w", **kw) -> IO:  # noqa: ANN003
    """open(path, mode) for writing, a new file being created 0600 (an existing one keeps its mode)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    try:
        return os.fdopen(fd, mode, **kw)
    except BaseException:
        os.close(fd)
        raise
