"""Owner-only file access below one keep directory, safe against symlinks and other users.

What the keep (:mod:`raetflo.road.keeping`) stores goes through here:

- directories are owner-only (0700) and files owner-only (0600); group or other permission
  bits found on our own directories and files are removed (with a warning), and anything
  owned by another uid is refused;
- every read and write opens the keep directory and then each subdirectory without following
  symlinks, and works relative to those descriptors, so a directory swapped for a symlink
  before a batch of operations is refused rather than used; reads refuse a file that is a
  symlink or not a regular file;
- writes are atomic and batched (temp files, synced together, renamed, directories synced:
  see :meth:`KeepFiles.batch`), and a write of what a file is known to hold already (as
  last read or written) writes nothing; an append (the delivery journal's) adds to a file
  in place, at once;
- a damaged file is set aside by renaming it to ``<file>.corrupt``.

The uid files must belong to is asked for on each check (``owner``), never cached.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import logging
import os
import shutil
import stat
import struct
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from raetflo import raeting

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
CORRUPT_SUFFIX = ".corrupt"  # a damaged keep file is renamed to <file>.corrupt
TEMP_SUFFIX = ".tmp"  # a file being written is .<random>.tmp until it is renamed

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_APPEND_FLAGS = (os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
                 | os.O_CLOEXEC)


class KeepError(raeting.KeepError):
    """The keep, or one of its files, is unusable."""


class DamagedFile(KeepError):
    """A keep file whose content (not its access) is unusable."""


class ForeignEntry(KeepError):
    """A keep file or directory another user owns: its owner can give it back."""


def _why(ex: OSError) -> str:
    return ex.strerror or str(ex)


def _check_owned(info: os.stat_result, path: str, what: str, uid: int) -> None:
    """Refuse a keep entry not owned by ``uid``."""
    if info.st_uid != uid:
        raise ForeignEntry(f"{what} '{path}' is owned by uid {info.st_uid}, not by this "
                           f"process's uid {uid}; refusing to use it (give it back to "
                           f"uid {uid} with chown, or run as its owner)")


def _repair_mode(fd: int, info: os.stat_result, wanted: int, path: str, what: str) -> None:
    """Give an entry of ours (open as ``fd``) mode ``wanted``; warn if it was group/other."""
    current = stat.S_IMODE(info.st_mode)
    if current == wanted:
        return
    if current & 0o077:
        log.warning("%s '%s' had mode %o; repairing it to %o", what, path, current, wanted)
    os.fchmod(fd, wanted)


def _not_dir(name: str, dir_fd: int | None) -> str:
    """What ``name``, which could not be opened as a directory, is instead."""
    with contextlib.suppress(OSError):
        if stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            return "is a symlink"
    return "is not a directory"


def _open_dir(name: str, path: str, uid: int, dir_fd: int | None = None,
              create: bool = True) -> int:
    """Open directory ``name`` (``path`` in messages) without following a symlink.

    It must be owned by ``uid``; its mode is repaired to 0700. A missing directory is created
    with ``create``, else raises FileNotFoundError.
    """
    if create:
        try:
            os.mkdir(name, DIR_MODE, dir_fd=dir_fd)
        except FileExistsError:
            pass
        except OSError as ex:
            raise KeepError(f"Keep directory '{path}' cannot be created: {_why(ex)}") from ex
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        if create:
            raise KeepError(f"Keep directory '{path}' vanished while being created") from None
        raise
    except OSError as ex:
        if ex.errno in (errno.ELOOP, errno.ENOTDIR):
            raise KeepError(f"Keep directory '{path}' {_not_dir(name, dir_fd)}; refusing to "
                            "use it") from None
        raise KeepError(f"Keep directory '{path}' cannot be opened: {_why(ex)}") from ex
    try:
        info = os.fstat(fd)
        _check_owned(info, path, "Keep directory", uid)
        _repair_mode(fd, info, DIR_MODE, path, "Keep directory")
    except OSError as ex:
        os.close(fd)
        raise KeepError(f"Keep directory '{path}' cannot be examined: {_why(ex)}") from ex
    except BaseException:
        os.close(fd)
        raise
    return fd


def _make_dir(path: str, uid: int) -> None:
    """Create ``path`` (mode 0700) unless present, then check it is ours and usable."""
    os.close(_open_dir(path, path, uid))
    if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
        raise KeepError(f"Keep directory '{path}' is not readable and writable")


def secure_dirs(path: str, top: str, uid: int) -> None:
    """Make every directory from ``top`` down to ``path`` exist, be owned by ``uid`` and be
    usable.

    Missing ancestors of ``top`` are created (so they are ours too); existing ancestors of
    ``top`` are not checked. ``top`` must be ``path`` or one of its ancestors.
    """
    chain = [path]
    while chain[-1] != top:
        parent = os.path.dirname(chain[-1])
        if parent == chain[-1]:
            raise ValueError(f"'{top}' is not an ancestor of '{path}'")
        chain.append(parent)
    parent = os.path.dirname(top)
    while parent != os.path.dirname(parent) and not os.path.lexists(parent):
        chain.append(parent)
        parent = os.path.dirname(parent)
    for directory in reversed(chain):
        _make_dir(directory, uid)


def _write_temp(fd: int, payload: bytes) -> tuple[str, os.stat_result]:
    """A new owner-only temp file in ``fd`` holding ``payload`` (not yet synced): its name
    and status."""
    temp = f".{os.urandom(6).hex()}{TEMP_SUFFIX}"
    file_fd = os.open(temp, _CREATE_FLAGS, FILE_MODE, dir_fd=fd)
    try:
        try:
            os.fchmod(file_fd, FILE_MODE)  # whatever the umask
            view = memoryview(payload)
            while view:
                view = view[os.write(file_fd, view):]
            info = os.fstat(file_fd)
        finally:
            os.close(file_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=fd)
        raise
    return temp, info


def _fsync_file(fd: int, name: str) -> None:
    """Flush the data of file ``name`` in ``fd`` to stable storage."""
    file_fd = os.open(name, _READ_FLAGS, dir_fd=fd)
    try:
        os.fsync(file_fd)
    finally:
        os.close(file_fd)


def _load_syncfs() -> Callable[[int], int] | None:
    """Linux's ``syncfs(2)`` from the C library, or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    with contextlib.suppress(OSError, AttributeError):
        return ctypes.CDLL(None, use_errno=True).syncfs
    return None


_SYNCFS = _load_syncfs()


def sync_filesystem(fd: int) -> bool:
    """Flush everything written to the file system holding ``fd`` to stable storage;
    False (nothing done) where the system cannot, so the caller syncs file by file."""
    if _SYNCFS is None:
        return False
    if _SYNCFS(fd) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return True


class _Known(dict):
    """Fingerprints by the hash of their file's path (see ``KeepFiles._known``)."""

    __slots__ = ()

    def __contains__(self, path: object) -> bool:
        return dict.__contains__(self, hash(path))

    def __setitem__(self, path: str, fingerprint: bytes) -> None:
        dict.__setitem__(self, hash(path), fingerprint)

    def get(self, path: str, default: Any = None) -> Any:  # type: ignore[override]
        return dict.get(self, hash(path), default)

    def pop(self, path: str, *default: Any) -> Any:  # type: ignore[override]
        return dict.pop(self, hash(path), *default)


def _fingerprint(payload: bytes, info: os.stat_result) -> bytes:
    """What tells that a file still holds ``payload`` as we left it: a digest of the
    content and of the file's inode, size and modification time (``info``), which any
    other writer's replace or rewrite changes."""
    check = hashlib.blake2b(payload, digest_size=16)
    check.update(struct.pack("=Qqq", info.st_ino, info.st_size, info.st_mtime_ns))
    return check.digest()


def _checked_file(file_fd: int, path: str, uid: int) -> os.stat_result:
    """The status of open keep file ``path``: a regular file owned by ``uid``, its mode
    repaired (DamagedFile, KeepError when it is not)."""
    info = os.fstat(file_fd)
    if not stat.S_ISREG(info.st_mode):
        raise DamagedFile(f"Keep file '{path}' is unreadable: not a regular file")
    _check_owned(info, path, "Keep file", uid)
    _repair_mode(file_fd, info, FILE_MODE, path, "Keep file")
    return info


def _cannot_write(path: str, ex: OSError) -> KeepError:
    return KeepError(f"Cannot write keep file '{path}': {_why(ex)}; check the free space "
                     "and permissions of the keep")


def _read_bytes(fd: int, name: str, path: str,
                uid: int) -> tuple[bytes, os.stat_result] | None:
    """Contents and status of regular file ``name`` in ``fd``, owned by ``uid`` (mode
    repaired), or None if missing."""
    try:
        file_fd = os.open(name, _READ_FLAGS, dir_fd=fd)
    except FileNotFoundError:
        return None
    except OSError as ex:
        if ex.errno == errno.ELOOP:
            raise DamagedFile(f"Keep file '{path}' is a symlink") from None
        raise KeepError(f"Keep file '{path}' is unreadable: {_why(ex)}; check its "
                        "ownership and permissions") from ex
    try:
        info = _checked_file(file_fd, path, uid)
        data = os.read(file_fd, info.st_size + 1)  # one read, unless the file grew
        if len(data) <= info.st_size:
            return data, info
        chunks = [data]
        while chunk := os.read(file_fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks), info
    except OSError as ex:
        raise KeepError(f"Keep file '{path}' is unreadable: {_why(ex)}; check its "
                        "ownership and permissions") from ex
    finally:
        os.close(file_fd)


@dataclass(slots=True)
class _Staged:
    """A file a batch will put in place: temp file ``temp`` in directory ``fd`` becomes
    ``name`` there, with fingerprint ``print`` (see :func:`_fingerprint`)."""

    fd: int
    temp: str
    name: str
    print: bytes


@dataclass(slots=True)
class _Batch:
    """The open directories and staged files of one batch of keep operations."""

    dirs: dict[str, int] = field(default_factory=dict)  # directory path -> open descriptor
    staged: dict[str, _Staged] = field(default_factory=dict)  # path -> its new content
    touched: set[int] = field(default_factory=set)  # directories whose entries changed


class KeepFiles:
    """The files below keep directory ``root``, whose owned chain of directories starts at
    ``top`` (see :func:`secure_dirs`); every file and directory must belong to ``owner()``.

    Paths given to the methods are full paths below ``root``. Failures raise
    :class:`KeepError`; a file that is a symlink or not a regular file raises
    :class:`DamagedFile`. Every operation runs in a :meth:`batch`: its own, or the one open
    (so one thread at a time uses a KeepFiles).
    """

    FsyncEach: int = 8  # batches of at most this many files sync each; bigger ones sync once

    def __init__(self, root: str, top: str, owner: Callable[[], int]) -> None:
        self.root = root
        self.top = top
        self.owner = owner
        # hash of a path -> fingerprint of the file as last read or written here; one
        # entry per file of the keep, so bounded by the remotes and roles the keep holds.
        # The hash, not the path, keeps it small; two paths of one hash cannot pass for
        # each other, as the fingerprint covers the file's inode (a rewrite at worst)
        self._known: _Known = _Known()
        self._batch: _Batch | None = None

    def _dir_fd(self, directory: str, create: bool) -> int:
        """Descriptor of keep directory ``directory``, opened from ``root`` down, one
        component at a time and never through a symlink (see :func:`_open_dir`).

        Missing directories are created with ``create``, else raise FileNotFoundError.
        """
        uid = self.owner()
        try:
            fd = _open_dir(self.root, self.root, uid, create=False)
        except FileNotFoundError:
            if not create:
                raise
            secure_dirs(self.root, self.top, uid)
            fd = _open_dir(self.root, self.root, uid, create=False)
        path = self.root
        for part in os.path.relpath(directory, self.root).split(os.sep):
            path = os.path.join(path, part)
            try:
                child = _open_dir(part, path, uid, fd, create)
            finally:
                os.close(fd)
            fd = child
        return fd

    # ----------------------------------------------------------------- batches

    @contextlib.contextmanager
    def batch(self) -> Iterator[_Batch]:
        """Make the writes and removes inside one batch, durable together at its end.

        Each directory is opened (and checked) once per batch. A write puts its content in
        a new temp file at once; at the end the data of every temp file reaches stable
        storage (file by file, or one file-system sync for more than ``FsyncEach``), then
        each is renamed over its file, then each changed directory is synced. So when the
        batch ends every file holds its new content durably, and a crash (or a failure)
        at any point leaves each file whole, with its old content or its new, never a
        part. A failure raises KeepError and drops the writes not yet in place (the
        ``.tmp`` files of a crash are ignored by the keep). Reads inside a batch see the
        files as they were before it. A batch opened inside another joins it.
        """
        if self._batch is not None:
            yield self._batch
            return
        batch = self._batch = _Batch()
        try:
            yield batch
            self._commit(batch)
        finally:
            self._batch = None
            _discard(batch)

    def _dir(self, batch: _Batch, directory: str, create: bool = False) -> int:
        """Descriptor of ``directory`` for ``batch`` (see :meth:`_dir_fd`)."""
        fd = batch.dirs.get(directory)
        if fd is None:
            fd = batch.dirs[directory] = self._dir_fd(directory, create)
        return fd

    def _commit(self, batch: _Batch) -> None:
        """Sync the staged files, put them in place, sync the directories changed."""
        paths = list(batch.staged)
        try:
            staged = list(batch.staged.values())
            if len(staged) <= self.FsyncEach or not all(
                    sync_filesystem(fd) for fd in {item.fd for item in staged}):
                for item in staged:
                    _fsync_file(item.fd, item.temp)
            for path, item in list(batch.staged.items()):
                os.replace(item.temp, item.name, src_dir_fd=item.fd, dst_dir_fd=item.fd)
                del batch.staged[path]
                batch.touched.add(item.fd)
                self._known[path] = item.print
            for fd in batch.touched:
                os.fsync(fd)
        except OSError as ex:
            what = (f"keep file '{paths[0]}'" if len(paths) == 1
                    else f"{len(paths)} keep files below '{self.root}'")
            raise KeepError(f"Cannot write {what}: {_why(ex)}; check the free space and "
                            "permissions of the keep") from ex

    @staticmethod
    def _unstage(batch: _Batch, path: str) -> None:
        """Drop what ``batch`` was going to write to ``path``: a later operation wins."""
        item = batch.staged.pop(path, None)
        if item is not None:
            with contextlib.suppress(OSError):
                os.unlink(item.temp, dir_fd=item.fd)

    # ----------------------------------------------------------------- files

    def write(self, path: str, payload: bytes) -> None:
        """Make ``path`` an owner-only file holding ``payload``, atomically, when the batch
        ends (see :meth:`batch`); nothing is written when it holds that already."""
        try:
            with self.batch() as batch:
                self._unstage(batch, path)
                if path in self._known and self._holds(path, payload):
                    return
                fd = self._dir(batch, os.path.dirname(path), create=True)
                temp, info = _write_temp(fd, payload)
                batch.staged[path] = _Staged(fd, temp, os.path.basename(path),
                                             _fingerprint(payload, info))
        except OSError as ex:
            raise _cannot_write(path, ex) from ex

    def append(self, path: str, payload: bytes, sync: bool = False) -> None:
        """Add ``payload`` at the end of owner-only file ``path`` (made if missing) now,
        outside any batch; with ``sync`` its data reach stable storage before this
        returns. Appended bytes are in the file for every later reader, a crash of this
        process or not (only a crash of the machine can lose what was not synced)."""
        try:
            with self.batch() as batch:
                fd = self._dir(batch, os.path.dirname(path), create=True)
                file_fd = os.open(os.path.basename(path), _APPEND_FLAGS, FILE_MODE, dir_fd=fd)
                try:
                    new = _checked_file(file_fd, path, self.owner()).st_size == 0
                    view = memoryview(payload)
                    while view:
                        view = view[os.write(file_fd, view):]
                    if sync:
                        os.fdatasync(file_fd)
                        if new:  # (its name too, when it may just have been made)
                            os.fsync(fd)
                finally:
                    os.close(file_fd)
                self._known.pop(path, None)
        except OSError as ex:
            if ex.errno == errno.ELOOP:
                raise DamagedFile(f"Keep file '{path}' is a symlink") from None
            raise _cannot_write(path, ex) from ex

    def _holds(self, path: str, payload: bytes) -> bool:
        """Whether ``path`` is still the owner-only file we left holding ``payload``."""
        info = self._intact(path)
        return info is not None and self._known.get(path) == _fingerprint(payload, info)

    def _intact(self, path: str) -> os.stat_result | None:
        """The status of ``path`` if it is still our owner-only regular file, else None."""
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(info.st_mode) or info.st_uid != self.owner():
            return None
        if stat.S_IMODE(info.st_mode) & 0o077:
            log.warning("Keep file '%s' had mode %o; rewriting it owner-only", path,
                        stat.S_IMODE(info.st_mode))
        return info if stat.S_IMODE(info.st_mode) == FILE_MODE else None

    def read(self, path: str) -> bytes | None:
        """Contents of file ``path`` (mode repaired), or None when it or its directory is
        missing."""
        batch = self._batch
        if batch is None:
            with self.batch():
                return self.read(path)
        directory, name = os.path.split(path)
        try:
            found = _read_bytes(self._dir(batch, directory), name, path, self.owner())
        except FileNotFoundError:
            found = None
        if found is None:
            self._known.pop(path, None)
            return None
        raw, info = found
        self._known[path] = _fingerprint(raw, info)
        return raw

    def exists(self, path: str) -> bool:
        """Whether there is an entry ``path`` (a symlink itself counts)."""
        try:
            with self.batch() as batch:
                os.stat(os.path.basename(path), dir_fd=self._dir(batch, os.path.dirname(path)),
                        follow_symlinks=False)
        except FileNotFoundError:
            return False
        except OSError as ex:
            raise KeepError(f"Keep directory '{os.path.dirname(path)}' is unreadable: "
                            f"{_why(ex)}") from ex
        return True

    def set_aside(self, path: str, problem: KeepError) -> str:
        """Rename damaged ``path`` (damaged because of ``problem``) to ``<path>.corrupt``,
        replacing an older one; return the new path."""
        self._known.pop(path, None)
        name = os.path.basename(path)
        try:
            with self.batch() as batch:
                self._unstage(batch, path)
                fd = self._dir(batch, os.path.dirname(path))
                os.replace(name, name + CORRUPT_SUFFIX, src_dir_fd=fd, dst_dir_fd=fd)
                batch.touched.add(fd)
        except OSError as ex:
            raise KeepError(f"{problem}; it cannot be set aside ({_why(ex)}): move or delete "
                            "it by hand") from ex
        return path + CORRUPT_SUFFIX

    def remove(self, path: str) -> None:
        """Delete file ``path`` unless it is missing."""
        self._known.pop(path, None)
        try:
            with self.batch() as batch:
                self._unstage(batch, path)
                fd = self._dir(batch, os.path.dirname(path))
                os.unlink(os.path.basename(path), dir_fd=fd)
                batch.touched.add(fd)
        except FileNotFoundError:
            pass
        except OSError as ex:
            raise KeepError(f"Cannot delete keep file '{path}': {_why(ex)}") from ex

    def remove_dir(self, directory: str) -> None:
        """Remove empty directory ``directory`` (``root`` itself too) unless it is missing;
        KeepError when it is not empty."""
        try:
            if directory == self.root:
                os.rmdir(self.root)
            else:
                with self.batch() as batch:
                    os.rmdir(os.path.basename(directory),
                             dir_fd=self._dir(batch, os.path.dirname(directory)))
        except FileNotFoundError:
            pass
        except OSError as ex:
            raise KeepError(f"Cannot remove keep directory '{directory}': {_why(ex)}") from ex

    def listdir(self, directory: str) -> list[str]:
        """Sorted entries of ``directory``; none when it is missing."""
        try:
            with self.batch() as batch:
                return sorted(os.listdir(self._dir(batch, directory)))
        except FileNotFoundError:
            return []
        except OSError as ex:
            raise KeepError(f"Keep directory '{directory}' is unreadable: {_why(ex)}") from ex

    def remove_tree(self) -> None:
        """Delete ``root`` recursively, unless it is missing; refuse a symlink."""
        try:
            info = os.lstat(self.root)
        except FileNotFoundError:
            return
        if stat.S_ISLNK(info.st_mode):
            raise KeepError(f"Keep directory '{self.root}' is a symlink; refusing to delete")
        self._known.clear()
        try:
            shutil.rmtree(self.root)
        except OSError as ex:
            raise KeepError(f"Cannot delete keep directory '{self.root}': {ex}") from ex


def _discard(batch: _Batch) -> None:
    """Delete the temp files ``batch`` did not put in place; close its directories."""
    for item in batch.staged.values():
        with contextlib.suppress(OSError):
            os.unlink(item.temp, dir_fd=item.fd)
    batch.staged.clear()
    for fd in batch.dirs.values():
        os.close(fd)
    batch.dirs.clear()
