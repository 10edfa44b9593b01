"""One process at a time on a keep: a road stack holds a lock on its keep directory.

Two processes on one keep would write each other's records and session ids under the
same identity. A stack takes an exclusive ``flock`` on ``<keep>/.raetflo.lock`` (an empty
file, made once: a restart writes nothing to the keep) for as long as it is open;
stacks of one process share the lock (raet code builds a stack again on its keep without
closing the first). The ``raetflo keep`` command takes no lock: it changes the keep of a
running stack on purpose.
"""
from __future__ import annotations

import errno
import fcntl
import os

LOCK_NAME = ".raetflo.lock"

# the keeps this process holds: real path -> [descriptor, stacks holding it]
_held: dict[str, list[int]] = {}


def _forget_held() -> None:
    """A forked child holds nothing of its own (the parent's lock stays the parent's)."""
    for fd, _ in _held.values():
        os.close(fd)
    _held.clear()


os.register_at_fork(after_in_child=_forget_held)


class KeepInUse(OSError):
    """Another process holds the keep."""


def acquire(dirpath: str) -> str:
    """Hold the keep at ``dirpath`` for one more stack of this process; the key to
    :func:`release` it with. KeepInUse when another process holds it, OSError when the
    lock file cannot be made."""
    path = os.path.realpath(dirpath)
    entry = _held.get(path)
    if entry is not None:
        entry[1] += 1
        return path
    fd = os.open(os.path.join(path, LOCK_NAME),
                 os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as ex:
        os.close(fd)
        if ex.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise
        raise KeepInUse(errno.EWOULDBLOCK, "is in use by another process") from None
    _held[path] = [fd, 1]
    return path


def release(key: str) -> None:
    """One stack of this process lets the keep ``key`` go; the last one unlocks it."""
    entry = _held.get(key)
    if entry is None:
        return
    entry[1] -= 1
    if entry[1] <= 0:
        del _held[key]
        os.close(entry[0])

