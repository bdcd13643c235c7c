"""Files the gateway keeps are private to its user, whatever umask started it (a shell's 022, not only systemd).

SQLite creates a database's ``-wal``, ``-shm`` and ``-journal`` files with the mode of the database file, so
creating the database file 0600 first makes all of them 0600.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["own_private_dir", "private_dir", "private_file"]

_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> None:
    """Create ``path`` and its missing parents 0700 (existing directories are left as they are: systemd's
    ``StateDirectoryMode`` or an operator's choice)."""
    missing = []
    for parent in [path, *path.parents]:
        if parent.exists():
            break
        missing.append(parent)
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            continue
        os.chmod(directory, 0o700)  # the umask may have taken more away than 077


def own_private_dir(path: Path) -> None:
    """Like ``private_dir``, for a directory in a place every user may write to (``/dev/shm``): an existing one
    must be this user's and closed to others, or someone else could read or swap what the agent keeps there."""
    private_dir(path)
    st = os.stat(path, follow_symlinks=False)
    if st.st_uid != os.getuid() or st.st_mode & 0o077 or not os.path.isdir(path) or os.path.islink(path):
        raise PermissionError(
            f"{path} must be a directory of user {os.getuid()} with mode 0700"
            f" (it is owned by {st.st_uid}, mode {st.st_mode & 0o777:o})"
        )


def private_file(path: Path, *, sqlite: bool = False) -> None:
    """Create ``path`` 0600 if missing and make an existing one 0600 (older agents left them 0644); with
    ``sqlite``, also the database's side files that exist."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    if sqlite:
        for suffix in _SQLITE_SIDE_FILES:
            side = Path(f"{path}{suffix}")
            if side.exists():
                os.chmod(side, 0o600)
