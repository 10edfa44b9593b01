"""The road keep: persisted local identity, remote records and per-role keys/acceptance.

All file I/O of the road lives here. The layout and file contents are those of the reference
keep, so either implementation can restore the other's keep::

    <dirpath>/local/<prefix>.<ext>                 local estate
    <dirpath>/role/local/role.<ext>                local role: signing and private key seeds
    <dirpath>/remote/<prefix>.<name>.<ext>         one file per remote estate
    <dirpath>/role/remote/role.<role>.<ext>        keys and acceptance of one remote role

Unlike the reference, directories are owner-only (0700), files are owner-only (0600) and
written atomically, and a keep directory owned by another user or reached through a symlink
is never used.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import stat
import tempfile
from dataclasses import asdict
from typing import Any, Protocol

import msgpack

from raetflo.raeting import Acceptance, AutoMode
from raetflo.road.acceptance import Decision, RoleRecord, role_status

log = logging.getLogger(__name__)

LOCAL_FIELDS = ("name", "uid", "ha", "iha", "natted", "fqdn", "dyned", "sid", "puid", "aha",
                "role")
LOCAL_ROLE_FIELDS = ("role", "sighex", "prihex")
REMOTE_FIELDS = ("name", "uid", "fuid", "ha", "iha", "natted", "fqdn", "dyned", "sid", "main",
                 "kind", "joined", "role")
REMOTE_ROLE_FIELDS = ("role", "acceptance", "verhex", "pubhex")
# Field sets of the merged (estate + role) records, checked for exact equality on load.
LOCAL_MERGED_FIELDS = LOCAL_FIELDS + LOCAL_ROLE_FIELDS[1:]
REMOTE_MERGED_FIELDS = REMOTE_FIELDS + REMOTE_ROLE_FIELDS[1:]

EXTS = ("json", "msgpack")
DIR_MODE = 0o700
FILE_MODE = 0o600


class KeepError(Exception):
    """The keep, or one of its files, is unusable."""


class Keyed(Protocol):
    """What the acceptance calls need of a remote record."""

    role: str
    verhex: str
    pubhex: str
    acceptance: Acceptance | None


def effective_uid() -> int:
    """The uid that must own every keep directory."""
    return os.geteuid()


def check_name(name: Any, what: str = "name") -> str:
    """Return ``name`` if it is safe inside a file name, else raise :class:`KeepError`."""
    if not isinstance(name, str) or not name:
        raise KeepError(f"Invalid {what} {name!r}: must be a non-empty string")
    if name.startswith(".") or any(bad and bad in name
                                   for bad in ("/", os.sep, os.altsep, "\0", " ")):
        raise KeepError(f"Invalid {what} {name!r}: may not contain a path separator, "
                        "NUL or space, nor start with '.'")
    return name


def _make_dir(path: str) -> None:
    """Create ``path`` (mode 0700) unless present, then check it is ours and usable."""
    try:
        os.mkdir(path, DIR_MODE)
        os.chmod(path, DIR_MODE)
    except FileExistsError:
        pass
    except OSError as ex:
        raise KeepError(f"Keep directory '{path}' cannot be created: {ex.strerror or ex}") \
            from ex
    try:
        info = os.lstat(path)
    except OSError as ex:
        raise KeepError(f"Keep directory '{path}' cannot be examined: {ex.strerror or ex}") \
            from ex
    if stat.S_ISLNK(info.st_mode):
        raise KeepError(f"Keep directory '{path}' is a symlink; refusing to use it")
    if not stat.S_ISDIR(info.st_mode):
        raise KeepError(f"Keep directory '{path}' is not a directory")
    uid = effective_uid()
    if info.st_uid != uid:
        raise KeepError(f"Keep directory '{path}' is owned by uid {info.st_uid}, "
                        f"not by this process's uid {uid}; refusing to use it")
    if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
        raise KeepError(f"Keep directory '{path}' is not readable and writable")


def secure_dirs(path: str, top: str) -> None:
    """Make every directory from ``top`` down to ``path`` exist, be ours and be usable.

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
        _make_dir(directory)


def _text(value: Any) -> Any:
    """Bytes as UTF-8 text, enum members as plain ints, anything else unchanged."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, Acceptance):
        return int(value)
    return value


def _record(data: dict[str, Any], fields: tuple[str, ...], what: str) -> dict[str, Any]:
    """The ``fields`` of ``data`` in file order; every one must be present."""
    missing = [field for field in fields if field not in data]
    if missing:
        raise ValueError(f"{what} data lacks field(s) {', '.join(missing)}")
    return {field: _text(data[field]) for field in fields}


def _split(entry: str, start: str) -> tuple[str, str] | None:
    """``(middle, ext)`` of a file name ``<start><middle>.<ext>`` with a keep ext, else None."""
    if not entry.startswith(start):
        return None
    middle, _, ext = entry[len(start):].rpartition(".")
    return (middle, ext) if middle and ext in EXTS else None


class RoadKeep:
    """Persistence of a road stack's local estate, remote estates and role keys.

    The keep directory is ``dirpath`` if given, else ``<basedirpath>/<stackname>`` if
    ``basedirpath`` is given (a problem with either raises :class:`KeepError`), else
    ``<BaseDirpath>/<stackname>``, falling back to ``<AltBaseDirpath>/<stackname>`` when that
    is unusable. The keep creates and owns the default bases' parents (``/tmp/raet``,
    ``~/.raet``) and everything below them. Directories are created when missing, here and
    before every write; all of them must be real directories owned by this process's uid.
    """

    BaseDirpath: str = "/tmp/raet/keep"
    AltBaseDirpath: str | None = None  # None: ~/.raet/keep, resolved at construction

    def __init__(self, stackname: str = "", dirpath: str | None = None,
                 basedirpath: str | None = None, auto: AutoMode | int | None = None,
                 ext: str = "json", prefix: str = "estate") -> None:
        if stackname:
            check_name(stackname, "stack name")
        if ext not in EXTS:
            raise KeepError(f"Unsupported keep file extension {ext!r}; use one of {EXTS}")
        self.prefix = check_name(prefix, "prefix")
        self.ext = ext
        self.auto = AutoMode.never if auto is None else AutoMode(auto)
        self.errors: list[str] = []
        self.dirpath, self._top = self._locate(stackname, dirpath, basedirpath)
        self._written: dict[str, bytes] = {}  # path -> bytes last written there
        self._checked: set[str] = set()  # directories verified since the last clear
        self.localdirpath = os.path.join(self.dirpath, "local")
        self.remotedirpath = os.path.join(self.dirpath, "remote")
        self.roledirpath = os.path.join(self.dirpath, "role")
        self.localroledirpath = os.path.join(self.roledirpath, "local")
        self.remoteroledirpath = os.path.join(self.roledirpath, "remote")
        self.localfilepath = os.path.join(self.localdirpath, f"{self.prefix}.{ext}")
        self.localrolepath = os.path.join(self.localroledirpath, f"role.{ext}")

    # ----------------------------------------------------------------- location

    def _locate(self, stackname: str, dirpath: str | None,
                basedirpath: str | None) -> tuple[str, str]:
        """Choose and prepare the keep directory; return it and the top of its owned chain."""
        if dirpath:
            path = os.path.abspath(os.path.expanduser(dirpath))
            self._prepare(path, path)
            return path, path
        if basedirpath:
            path = os.path.abspath(os.path.join(os.path.expanduser(basedirpath), stackname))
            self._prepare(path, path)
            return path, path
        base = os.path.abspath(os.path.expanduser(self.BaseDirpath))
        path = os.path.abspath(os.path.join(base, stackname))
        try:
            self._prepare(path, os.path.dirname(base))
            return path, os.path.dirname(base)
        except KeepError as ex:
            problem = str(ex)
        alt = os.path.abspath(os.path.expanduser(
            self.AltBaseDirpath or os.path.join("~", ".raet", "keep")))
        path = os.path.abspath(os.path.join(alt, stackname))
        log.warning("%s; using keep directory '%s' instead", problem, path)
        try:
            self._prepare(path, os.path.dirname(alt))
        except KeepError as ex:
            raise KeepError(f"No usable keep directory: {problem}; {ex}") from ex
        return path, os.path.dirname(alt)

    @staticmethod
    def _prepare(path: str, top: str) -> None:
        """Create and check the keep directory ``path`` and all its subdirectories."""
        for sub in ("local", "remote", os.path.join("role", "local"),
                    os.path.join("role", "remote")):
            secure_dirs(os.path.join(path, sub), top)

    # ----------------------------------------------------------------- file access

    def _encode(self, data: dict[str, Any]) -> bytes:
        if self.ext == "json":
            return json.dumps(data, indent=2).encode("utf-8")
        return msgpack.packb(data, use_bin_type=False)

    def _write(self, path: str, data: dict[str, Any]) -> None:
        """Write ``data`` to ``path`` atomically as an owner-only file (unless unchanged)."""
        payload = self._encode(data)
        _make_dir(self.dirpath)  # one lstat: still our own real directory
        if self._written.get(path) == payload and os.path.exists(path):
            return
        directory = os.path.dirname(path)
        fresh = directory not in self._checked
        if fresh:
            secure_dirs(directory, self._top)
            self._checked.add(directory)
        temp = None
        try:
            fd, temp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                                        dir=directory)
            with os.fdopen(fd, "wb") as file:
                os.fchmod(file.fileno(), FILE_MODE)
                file.write(payload)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, path)
            temp = None
        except FileNotFoundError:
            self._checked.discard(directory)
            if fresh:
                raise KeepError(f"Cannot write keep file '{path}': directory vanished") from None
            self._write(path, data)  # removed under us since checked: recreate it once
            return
        except OSError as ex:
            raise KeepError(f"Cannot write keep file '{path}': {ex.strerror or ex}") from ex
        finally:
            if temp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
        self._written[path] = payload

    def _read(self, path: str) -> dict[str, Any] | None:
        """The map stored in ``path``, or ``None`` when there is no such file."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as file:
                raw = file.read()
        except FileNotFoundError:
            return None
        except OSError as ex:
            raise KeepError(f"Keep file '{path}' is unreadable: {ex.strerror or ex}") from ex
        try:
            if self.ext == "json":
                data = json.loads(raw.decode("utf-8"))
            else:
                data = msgpack.unpackb(raw, raw=False, strict_map_key=False)
        except (ValueError, TypeError, msgpack.UnpackException) as ex:
            raise KeepError(f"Keep file '{path}' is corrupt: {ex}") from ex
        if not isinstance(data, dict):
            raise KeepError(f"Keep file '{path}' is corrupt: not a map")
        return data

    def _remove(self, path: str) -> None:
        self._written.pop(path, None)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as ex:
            raise KeepError(f"Cannot delete keep file '{path}': {ex.strerror or ex}") from ex

    def _remove_matching(self, directory: str, start: str) -> None:
        """Delete every file ``<start><something>.<json|msgpack>`` in ``directory``."""
        for entry in self._listdir(directory):
            if _split(entry, start) is not None:
                self._remove(os.path.join(directory, entry))

    @staticmethod
    def _listdir(directory: str) -> list[str]:
        """Sorted entries of ``directory``; none when it is missing."""
        try:
            return sorted(os.listdir(directory))
        except FileNotFoundError:
            return []
        except OSError as ex:
            raise KeepError(f"Keep directory '{directory}' is unreadable: "
                            f"{ex.strerror or ex}") from ex

    def remotefilepath(self, name: str) -> str:
        """Path of the estate file of remote ``name``."""
        return os.path.join(self.remotedirpath,
                            f"{self.prefix}.{check_name(name, 'remote name')}.{self.ext}")

    def remoterolepath(self, role: str) -> str:
        """Path of the file of remote role ``role``."""
        return os.path.join(self.remoteroledirpath, f"role.{check_name(role, 'role')}.{self.ext}")

    # ----------------------------------------------------------------- local

    def dump_local(self, data: dict[str, Any]) -> None:
        """Persist the local estate fields of ``data``."""
        self._write(self.localfilepath, _record(data, LOCAL_FIELDS, "Local estate"))

    def dump_local_role(self, data: dict[str, Any]) -> None:
        """Persist the local role: role name and secret key seeds."""
        self._write(self.localrolepath, _record(data, LOCAL_ROLE_FIELDS, "Local role"))

    def load_local(self) -> dict[str, Any] | None:
        """The local estate merged with the local role, or ``None`` if there is none.

        A missing role file gives ``None`` keys. A merged record with the wrong field set has
        its estate file deleted (``None``); an unreadable or corrupt file raises KeepError.
        """
        estate = self._read(self.localfilepath)
        if estate is None:
            return None
        merged = {**estate, "sighex": None, "prihex": None}
        merged.update(self._read(self.localrolepath) or {})
        if set(merged) != set(LOCAL_MERGED_FIELDS):
            log.warning("Keep file '%s' has the wrong fields; deleting it", self.localfilepath)
            self._remove(self.localfilepath)
            return None
        return {field: merged[field] for field in LOCAL_MERGED_FIELDS}

    # ----------------------------------------------------------------- remotes

    def dump_remote(self, data: dict[str, Any]) -> None:
        """Persist the remote estate fields of ``data`` under its name."""
        record = _record(data, REMOTE_FIELDS, "Remote estate")
        self._write(self.remotefilepath(record["name"]), record)

    def dump_remote_role(self, data: dict[str, Any]) -> None:
        """Persist the keys and acceptance of the role in ``data``."""
        record = _record(data, REMOTE_ROLE_FIELDS, "Remote role")
        self._write(self.remoterolepath(record["role"]), record)

    def load_remote_role(self, role: str) -> dict[str, Any]:
        """Keys and acceptance of ``role``; all ``None`` but the role when not persisted."""
        data = self._read(self.remoterolepath(role)) or {}
        acceptance = data.get("acceptance")
        if acceptance is not None:
            try:
                acceptance = Acceptance(acceptance)
            except ValueError as ex:
                raise KeepError(f"Keep file '{self.remoterolepath(role)}' is corrupt: "
                                f"bad acceptance {acceptance!r}") from ex
        return {"role": role, "acceptance": acceptance, "verhex": data.get("verhex"),
                "pubhex": data.get("pubhex")}

    def load_remote(self, name: str) -> dict[str, Any] | None:
        """The estate of remote ``name`` merged with its role, or ``None``.

        A merged record with the wrong field set has its estate file deleted (``None``); an
        unreadable or corrupt file raises KeepError.
        """
        path = self.remotefilepath(name)
        estate = self._read(path)
        if estate is None:
            return None
        merged = dict(estate)
        if "role" in estate:
            merged.update(self.load_remote_role(estate["role"]))
        if set(merged) != set(REMOTE_MERGED_FIELDS):
            log.warning("Keep file '%s' has the wrong fields; deleting it", path)
            self._remove(path)
            return None
        return {field: merged[field] for field in REMOTE_MERGED_FIELDS}

    def load_all_remotes(self) -> dict[str, dict[str, Any]]:
        """Every persisted remote by name, in name order.

        Unusable files are skipped and left on disk; ``errors`` lists them (reset per call).
        """
        self.errors = []
        remotes = {}
        for entry in self._listdir(self.remotedirpath):
            parts = _split(entry, f"{self.prefix}.")
            if parts is None or parts[1] != self.ext:
                continue
            name = parts[0]
            try:
                data = self.load_remote(name)
            except KeepError as ex:
                self.errors.append(str(ex))
                log.warning("Skipping remote: %s", ex)
                continue
            if data is not None:
                remotes[name] = data
        return remotes

    # ----------------------------------------------------------------- acceptance

    def judge_role(self, role: str, verhex: str, pubhex: str, dump: bool = True) -> Decision:
        """Judge the keys of ``role`` by the auto mode; with ``dump`` persist any change."""
        stored = self.load_remote_role(role)
        decision = role_status(self.auto, RoleRecord(**stored), _text(verhex), _text(pubhex))
        if decision.reason:
            log.info("Rejection Reason: %s.", decision.reason)
        if dump and decision.write is not None:
            self.dump_remote_role(asdict(decision.write))
        return decision

    def status_role(self, role: str, verhex: str, pubhex: str, dump: bool = True) -> Acceptance:
        """Acceptance status of ``role`` with these keys (see :meth:`judge_role`)."""
        return self.judge_role(role, verhex, pubhex, dump).status

    def status_remote(self, remote: Keyed, dump: bool = True) -> Acceptance:
        """Judge the keys of ``remote`` and store the status in ``remote.acceptance``."""
        remote.acceptance = self.status_role(remote.role, remote.verhex, remote.pubhex, dump)
        return remote.acceptance

    def _set_acceptance(self, remote: Keyed, status: Acceptance) -> None:
        remote.acceptance = status
        self.dump_remote_role({"role": remote.role, "acceptance": status,
                               "verhex": remote.verhex, "pubhex": remote.pubhex})

    def accept_remote(self, remote: Keyed) -> None:
        """Accept the keys of ``remote``'s role and persist that."""
        self._set_acceptance(remote, Acceptance.accepted)

    def pend_remote(self, remote: Keyed) -> None:
        """Mark the keys of ``remote``'s role pending and persist that."""
        self._set_acceptance(remote, Acceptance.pending)

    def reject_remote(self, remote: Keyed) -> None:
        """Reject the keys of ``remote``'s role and persist that."""
        self._set_acceptance(remote, Acceptance.rejected)

    # ----------------------------------------------------------------- clearing

    def clear_local(self) -> None:
        """Delete the local estate file."""
        for ext in EXTS:
            self._remove(os.path.join(self.localdirpath, f"{self.prefix}.{ext}"))

    def clear_local_role(self) -> None:
        """Delete the local role file."""
        for ext in EXTS:
            self._remove(os.path.join(self.localroledirpath, f"role.{ext}"))

    def clear_remote(self, name: str) -> None:
        """Delete the estate file of remote ``name``."""
        check_name(name, "remote name")
        for ext in EXTS:
            self._remove(os.path.join(self.remotedirpath, f"{self.prefix}.{name}.{ext}"))

    def clear_all_remotes(self) -> None:
        """Delete every remote estate file."""
        self._remove_matching(self.remotedirpath, f"{self.prefix}.")

    def clear_remote_role(self, role: str) -> None:
        """Delete the file of remote role ``role``."""
        check_name(role, "role")
        for ext in EXTS:
            self._remove(os.path.join(self.remoteroledirpath, f"role.{role}.{ext}"))

    def clear_all_remote_roles(self) -> None:
        """Delete every remote role file."""
        self._remove_matching(self.remoteroledirpath, "role.")

    def clear_all(self) -> None:
        """Delete all keep files (directories stay)."""
        self.clear_local()
        self.clear_local_role()
        self.clear_all_remotes()
        self.clear_all_remote_roles()

    def clear_all_dir(self) -> None:
        """Delete the keep directory recursively; the next dump recreates it."""
        try:
            info = os.lstat(self.dirpath)
        except FileNotFoundError:
            return
        if stat.S_ISLNK(info.st_mode):
            raise KeepError(f"Keep directory '{self.dirpath}' is a symlink; refusing to delete")
        self._written.clear()
        self._checked.clear()
        try:
            shutil.rmtree(self.dirpath)
        except OSError as ex:
            raise KeepError(f"Cannot delete keep directory '{self.dirpath}': {ex}") from ex

    # Names of the reference API, as used by the tutorial.
    statusRole = status_role
    statusRemote = status_remote
    acceptRemote = accept_remote
    pendRemote = pend_remote
    rejectRemote = reject_remote
    clearAllDir = clear_all_dir
