"""One refresh per paper at a time: an advisory lock file next to the database.

`<db>.<key>.lock` is held with a non-blocking `flock` for the whole crawl and holds the pid of its
holder. The kernel releases a flock when its process dies, however it dies (kill -9 included), so a
lock file left behind by a dead process is simply locked again; the pid still written in it only
lets us say whose lock we took over. The file is emptied on release but never deleted: deleting a
lock file that another process has already opened would let two processes hold "the" lock.

Within one process a lock is re-entrant (the `refresh` runner takes every paper's lock before the
crawl starts; the SQLite pipeline asks again for the same paper and must not lock itself out).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

# lock path -> [the lock, how many holders in this process]
_HELD: dict[str, list] = {}


def lock_path(db: str | Path, key: str) -> Path:
    # Absolute: the runner and the pipeline may spell the same database differently.
    return Path(os.path.abspath(f"{db}.{key}.lock"))


class SiteLock:
    """`acquire()` -> True, or False with `holder` = the pid that holds it (0 if unknown).
    After a True, `stale_pid` names the dead process whose lock was taken over (0 if none): callers
    report it, as they know where their messages go."""

    def __init__(self, db: str | Path, key: str):
        self.key = key
        self.path = lock_path(db, key)
        self.fd: int | None = None
        self.holder = 0  # pid of the live holder when acquire() failed
        self.stale_pid = 0  # pid of a dead holder whose lock file we took over

    def acquire(self) -> bool:
        held = _HELD.get(str(self.path))
        if held:
            held[1] += 1
            self.fd = held[0].fd
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.holder = _read_pid(fd)
            os.close(fd)
            return False
        previous = _read_pid(fd)
        if previous and previous != os.getpid():
            # A clean release empties the file, so a pid left in it is a holder that died. We hold the
            # flock now, so that process is gone even if its pid has since been reused.
            self.stale_pid = previous
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        os.fsync(fd)
        self.fd = fd
        _HELD[str(self.path)] = [self, 1]
        return True

    def release(self) -> None:
        held = _HELD.get(str(self.path))
        if not held or self.fd is None:
            return
        held[1] -= 1
        if held[1] > 0:
            return
        del _HELD[str(self.path)]
        owner = held[0]
        try:
            os.ftruncate(owner.fd, 0)  # an empty file: released cleanly, nobody to report as stale
            fcntl.flock(owner.fd, fcntl.LOCK_UN)
        finally:
            os.close(owner.fd)
            owner.fd = None
            self.fd = None

    def __enter__(self) -> SiteLock:
        if not self.acquire():
            raise BlockingIOError(f"{self.key}: locked by pid {self.holder}")
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _read_pid(fd: int) -> int:
    try:
        return int(os.pread(fd, 32, 0).decode("ascii", "replace").strip() or 0)
    except ValueError:
        return 0
