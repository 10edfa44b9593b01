"""The road keep: persisted local identity, remote records and per-role keys/acceptance.

The layout and file contents are those of the reference keep, so either implementation can
restore the other's keep::

    <dirpath>/local/<prefix>.<ext>                 local estate
    <dirpath>/role/local/role.<ext>                local role: signing and private key seeds
    <dirpath>/remote/<prefix>.<name>.<ext>         one file per remote estate
    <dirpath>/role/remote/role.<role>.<ext>        keys and acceptance of one remote role

Unlike the reference:

- every file goes through :mod:`raetflo.road.keepfiles`: owner-only directories and files
  (anything owned by another uid is refused), opened without following symlinks, written
  atomically;
- names that cannot be a single safe file name are refused (:func:`check_name`);
- an unusable local identity raises :class:`KeepError` rather than being replaced: only a keep
  with no local estate file at all gets a fresh identity;
- a damaged remote estate or role file is renamed to ``<file>.corrupt`` and reported
  (``errors``, ``on_damage``); the peer is then judged as having no prior record, except that
  under auto mode ``once`` a role whose file was set aside is judged as under ``never``
  (pending until the operator accepts or rejects it, or clears the role) so that changed keys
  are never accepted silently. Under ``always`` it is accepted, under ``never`` pending.
"""
from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import Any, Protocol

from raetflo.raeting import Acceptance, AutoMode
from raetflo.road import keepnames
from raetflo.road.acceptance import Decision, RoleRecord, role_status
from raetflo.road.keepfiles import (CORRUPT_SUFFIX, DamagedFile, ForeignEntry, KeepError,
                                    KeepFiles, secure_dirs)
from raetflo.road.keepfiles import DIR_MODE as DIR_MODE  # still importable from here
from raetflo.road.keepfiles import FILE_MODE as FILE_MODE  # still importable from here
from raetflo.road.keeprecords import MAX_NAME_BYTES as MAX_NAME_BYTES  # importable here
from raetflo.road.keeprecords import (EXTS, LOCAL_FIELDS, LOCAL_HINT, LOCAL_MERGED_FIELDS,
                                      LOCAL_ROLE_FIELDS, MAX_PREFIX_BYTES,
                                      REMOTE_FIELDS, REMOTE_MERGED_FIELDS, REMOTE_ROLE_FIELDS,
                                      as_text, check_fields, check_key, check_name, check_types,
                                      decode, effective_uid, encode, path_ext, record_of,
                                      split_entry)

log = logging.getLogger(__name__)


class Keyed(Protocol):
    """What the acceptance calls need of a remote record."""

    role: str
    acceptance: int | None

    @property
    def verhex(self) -> str: ...

    @property
    def pubhex(self) -> str: ...


JOURNAL_NAME = "deliveries.jsonl"  # the delivery journal, in the remote directory


ALT_KEEP_DIR = os.path.join("~", ".raet", "keep")  # the base keeps fall back to


class RoadKeep:
    """Persistence of a road stack's local estate, remote estates and role keys.

    The keep directory is ``dirpath`` if given, else ``<basedirpath>/<stackname>`` if
    ``basedirpath`` is given (a problem with either raises :class:`KeepError`), else
    ``<KeepDir>/<stackname>``, falling back to ``<AltKeepDir>/<stackname>`` when that
    is unusable. The keep creates and owns the default bases' parents (``/tmp/raet``,
    ``~/.raet``) and everything below them. Directories are created when missing, here and
    on every write; all of them must be real directories owned by this process's uid.

    ``errors`` lists the reports of damaged files set aside and of remote files skipped as
    unreadable (reset by :meth:`load_all_remotes`); ``on_damage``, when set, is called with
    the report of each file set aside.
    """

    KeepDir: str = "/tmp/raet/keep"  # (raet's names; raet's default base is /var/cache)
    AltKeepDir: str | None = ALT_KEEP_DIR  # None: the same
    MaxErrors: int = 100  # bounds ``errors``: reports of damaged files kept (oldest dropped)
    Ext: str = "json"  # file format when ``ext`` is not given: "json" or "msgpack"
    Auto: int = AutoMode.never.value  # auto mode when ``auto`` is not given
    # Field lists of the records, in file order (merged = estate + role).
    LocalFields = list(LOCAL_MERGED_FIELDS)
    LocalDumpFields = list(LOCAL_FIELDS)
    LocalRoleFields = list(LOCAL_ROLE_FIELDS)
    RemoteFields = list(REMOTE_MERGED_FIELDS)
    RemoteDumpFields = list(REMOTE_FIELDS)
    RemoteRoleFields = list(REMOTE_ROLE_FIELDS)

    judges_itself = False  # a subclass overrides how acceptance is decided (keepnames)

    def __init_subclass__(cls, **kwa: Any) -> None:
        super().__init_subclass__(**kwa)
        keepnames.redirect(cls, RoadKeep)

    def __init__(self, stackname: str = "stack", prefix: str = "estate",
                 auto: AutoMode | int | None = None, baseroledirpath: str | None = "",
                 roledirpath: str | None = "", *, basedirpath: str | None = "",
                 dirpath: str | None = "", ext: str | None = "") -> None:
        if stackname:
            check_name(stackname, "stack name")
        ext = ext or self.Ext
        if ext not in EXTS:
            raise KeepError(f"Unsupported keep file extension {ext!r}; use one of {EXTS}")
        self.prefix = check_name(prefix, "prefix", MAX_PREFIX_BYTES)
        self.ext = ext
        self.auto = self.Auto if auto is None else auto
        AutoMode(self.auto)  # an unknown mode is refused here, not at the first join
        self.errors: list[str] = []
        self.on_damage: Callable[[str], None] | None = None
        owner = lambda: effective_uid()  # looked up at each check, where it is replaceable
        self.dirpath, top = self._locate(stackname, dirpath, basedirpath, ("local", "remote"))
        self._files = KeepFiles(self.dirpath, top, owner)
        if roledirpath or baseroledirpath:
            role = roledirpath or os.path.join(baseroledirpath or "", stackname, "role")
            self.roledirpath, top = self._locate(stackname, role, None, ("local", "remote"))
            self._roles = KeepFiles(self.roledirpath, top, owner)
        else:
            self.roledirpath = os.path.join(self.dirpath, "role")
            self._prepare(self.roledirpath, self.dirpath, ("local", "remote"))
            self._roles = self._files
        self.localdirpath = os.path.join(self.dirpath, "local")
        self.remotedirpath = os.path.join(self.dirpath, "remote")
        self.localroledirpath = os.path.join(self.roledirpath, "local")
        self.remoteroledirpath = os.path.join(self.roledirpath, "remote")
        self.localfilepath = os.path.join(self.localdirpath, f"{self.prefix}.{ext}")
        self.journalpath = os.path.join(self.remotedirpath, JOURNAL_NAME)
        self.localrolepath = os.path.join(self.localroledirpath, f"role.{ext}")

    # ----------------------------------------------------------------- location

    def _locate(self, stackname: str, dirpath: str | None, basedirpath: str | None,
                subs: tuple[str, ...]) -> tuple[str, str]:
        """Choose and prepare a keep directory with subdirectories ``subs``; return it and the
        top of its owned chain.

        An explicit ``dirpath`` (or ``<basedirpath>/<stackname>``) is used or refused
        (KeepError), never replaced; only the default location falls back, to
        ``<AltKeepDir>/<stackname>``.
        """
        if dirpath or basedirpath:
            path = os.path.abspath(os.path.expanduser(
                dirpath or os.path.join(basedirpath or "", stackname)))
            self._prepare(path, path, subs)
            return path, path
        base = os.path.abspath(os.path.expanduser(self.KeepDir))
        path, top = os.path.abspath(os.path.join(base, stackname)), os.path.dirname(base)
        try:
            self._prepare(path, top, subs)
            return path, top
        except KeepError as ex:
            problem = str(ex)
        alt = os.path.abspath(os.path.expanduser(
            self.AltKeepDir or ALT_KEEP_DIR))
        path = os.path.abspath(os.path.join(alt, stackname))
        log.warning("%s; using keep directory '%s' instead", problem, path)
        try:
            self._prepare(path, os.path.dirname(alt), subs)
        except KeepError as ex:
            raise KeepError(f"No usable keep directory: {problem}; {ex}") from ex
        return path, os.path.dirname(alt)

    @staticmethod
    def _prepare(path: str, top: str, subs: tuple[str, ...]) -> None:
        """Create and check the keep directory ``path`` and its subdirectories ``subs``."""
        for sub in subs:
            secure_dirs(os.path.join(path, sub), top, effective_uid())

    # ----------------------------------------------------------------- record files

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Make the writes and removes inside one batch of each file tree (role files
        first), durable when it ends; see :meth:`KeepFiles.batch`."""
        with self._files.batch(), self._roles.batch():
            yield

    def _store(self, path: str) -> KeepFiles:
        """The owner-only file access of the directory tree holding ``path``."""
        return self._roles if path.startswith(self._roles.root + os.sep) else self._files

    def _write(self, path: str, data: dict[str, Any]) -> None:
        """Write ``data`` to ``path`` in the keep's format (see :meth:`KeepFiles.write`)."""
        self._store(path).write(path, encode(data, self.ext))

    def _read(self, path: str) -> dict[str, Any] | None:
        """The map stored in ``path``, or ``None`` when there is no such file.

        :class:`DamagedFile` when its content is unusable, :class:`KeepError` when it
        cannot be read.
        """
        raw = self._store(path).read(path)
        return None if raw is None else decode(raw, self.ext, path)

    def _set_aside(self, path: str, problem: KeepError) -> None:
        """Set damaged ``path`` aside as ``<path>.corrupt`` (replacing an older one); report it."""
        report = f"{problem}; set aside as '{self._store(path).set_aside(path, problem)}'"
        self._note(report)
        if self.on_damage is not None:
            self.on_damage(report)

    def _note(self, report: str) -> None:
        """Log ``report`` and keep it in ``errors`` (at most ``MaxErrors``)."""
        log.warning("%s", report)
        self.errors.append(report)
        del self.errors[:-self.MaxErrors]

    def _remove_matching(self, directory: str, start: str) -> None:
        """Delete every file ``<start><something>.<json|msgpack>`` in ``directory``, and
        those of them set aside as damaged."""
        files = self._store(os.path.join(directory, start))
        with files.batch():
            for entry in files.listdir(directory):
                if split_entry(entry.removesuffix(CORRUPT_SUFFIX), start) is not None:
                    files.remove(os.path.join(directory, entry))

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
        self._write(self.localfilepath, record_of(data, LOCAL_FIELDS, "Local estate"))

    def dump_local_role(self, data: dict[str, Any]) -> None:
        """Persist the local role: role name and secret key seeds."""
        self._write(self.localrolepath, record_of(data, LOCAL_ROLE_FIELDS, "Local role"))

    def load_local(self) -> dict[str, Any] | None:
        """The local estate merged with the local role, or ``None`` if there is no estate file.

        Anything else unusable (a missing or damaged role file, bad keys, wrong fields) raises
        :class:`KeepError` saying which file and what to do: the identity is never replaced
        silently.
        """
        try:
            estate = self._read(self.localfilepath)
            if estate is None:
                return None
            check_fields(estate, LOCAL_FIELDS, self.localfilepath)
            check_types(estate, self.localfilepath)
            role = self.load_local_role()
            if role is None:
                raise KeepError(f"Local role file '{self.localrolepath}' is missing")
            for field in LOCAL_ROLE_FIELDS[1:]:
                check_key(role, field, self.localrolepath)
        except ForeignEntry:
            raise  # (its owner can give it back: no new identity is called for)
        except KeepError as ex:
            raise KeepError(f"{ex}; {LOCAL_HINT}") from ex
        merged = {**estate, **role}
        return {field: merged[field] for field in LOCAL_MERGED_FIELDS}

    def load_local_role(self) -> dict[str, Any] | None:
        """The local role record (its role and secret key seeds); None when there is none
        (a subclass keeping them elsewhere overrides raet's ``loadLocalRoleData``, and
        this runs that; a record without a role takes the local estate's)."""
        data = self._read(self.localrolepath)
        if data is not None:
            check_fields(data, LOCAL_ROLE_FIELDS, self.localrolepath)
        return data

    # ----------------------------------------------------------------- remotes

    def dump_remote(self, data: dict[str, Any]) -> None:
        """Persist the remote estate fields of ``data`` under its name."""
        record = record_of(data, REMOTE_FIELDS, "Remote estate")
        self._write(self.remotefilepath(record["name"]), record)

    def dump_remote_role(self, data: dict[str, Any]) -> None:
        """Persist the keys and acceptance of the role in ``data``."""
        record = record_of(data, REMOTE_ROLE_FIELDS, "Remote role")
        self._write(self.remoterolepath(record["role"]), record)

    def load_remote_role(self, role: str) -> dict[str, Any]:
        """Keys and acceptance of ``role``; all ``None`` but the role when not persisted.

        A damaged role file is set aside and counts as not persisted (but see
        :meth:`judge_role`).
        """
        path = self.remoterolepath(role)
        try:
            data = self._read(path)
            if data is not None:
                check_fields(data, REMOTE_ROLE_FIELDS, path)
                acceptance = self._acceptance(data["acceptance"], path)
                for field in REMOTE_ROLE_FIELDS[2:]:
                    check_key(data, field, path, optional=True)
                return dict(role=role, acceptance=acceptance, verhex=data["verhex"],
                            pubhex=data["pubhex"])
        except DamagedFile as ex:
            self._set_aside(path, ex)
        return dict(role=role, acceptance=None, verhex=None, pubhex=None)

    @staticmethod
    def _acceptance(value: Any, path: str) -> int | None:
        """The stored acceptance as a plain ``Acceptance`` value, or None; DamagedFile when
        it is no such value."""
        if value is None:
            return None
        try:
            return Acceptance(value).value
        except ValueError:
            raise DamagedFile(f"Keep file '{path}' is corrupt: bad acceptance "
                              f"{value!r}") from None

    def load_remote(self, name: str) -> dict[str, Any] | None:
        """The estate of remote ``name`` merged with its role, or ``None``.

        A damaged estate file is set aside (``None``), and so is one whose role file was
        damaged and not rewritten since; an unreadable one raises KeepError.
        """
        path = self.remotefilepath(name)
        try:
            estate = self._read(path)
            if estate is None:
                return None
            check_fields(estate, REMOTE_FIELDS, path)
            check_types(estate, path)
            if estate["name"] != name:
                raise DamagedFile(f"Keep file '{path}' holds remote {estate['name']!r}")
            self._check_role_name(estate["role"], path)
            role = self.load_remote_role(estate["role"])
            if not role["verhex"] and self.role_damaged(estate["role"]):
                # a record whose keys were lost cannot be checked: the peer joins afresh
                raise DamagedFile(f"Keep file '{path}' is unusable: the file of its role "
                                  f"{estate['role']!r} was damaged")
        except DamagedFile as ex:
            self._set_aside(path, ex)
            return None
        merged = {**estate, **role}
        return {field: merged[field] for field in REMOTE_MERGED_FIELDS}

    @staticmethod
    def _check_role_name(role: Any, path: str) -> None:
        try:
            check_name(role, "role")
        except KeepError as ex:
            raise DamagedFile(f"Keep file '{path}' is corrupt: {ex}") from None

    def set_aside_remote(self, name: str, problem: str) -> None:
        """Set the estate file of remote ``name`` aside as damaged because of ``problem``."""
        path = self.remotefilepath(name)
        self._set_aside(path, DamagedFile(f"Keep file '{path}' is unusable: {problem}"))

    def load_all_remotes(self) -> dict[str, dict[str, Any]]:
        """Every persisted remote by name, in name order.

        Damaged files are set aside; files that cannot be read are skipped and left on disk.
        ``errors`` lists both (reset per call).
        """
        self.errors = []
        remotes = {}
        with self.batch():
            for entry in self._files.listdir(self.remotedirpath):
                parts = split_entry(entry, f"{self.prefix}.")
                if parts is None or parts[1] != self.ext:
                    continue
                name = parts[0]
                try:
                    data = self.load_remote(name)
                except KeepError as ex:
                    self._note(f"Skipping remote: {ex}")
                    continue
                if data is not None:
                    remotes[name] = data
        return remotes

    # ----------------------------------------------------------------- acceptance

    def role_damaged(self, role: str) -> bool:
        """Whether a damaged file of ``role`` was set aside (and the role not cleared since)."""
        path = self.remoterolepath(role) + CORRUPT_SUFFIX
        return self._store(path).exists(path)

    def judge_role(self, role: str, verhex: str, pubhex: str, dump: bool = True) -> Decision:
        """Judge the keys of ``role`` by the auto mode; with ``dump`` persist any change.

        Under ``once`` a role whose file was found damaged is judged as under ``never``: its
        history is lost, so new keys wait for the operator instead of being accepted.
        """
        stored = self.load_remote_role(role)
        try:
            auto = AutoMode(self.auto)
        except ValueError:
            raise KeepError(f"Unrecognized auto mode {self.auto!r}") from None
        if auto is AutoMode.once and self.role_damaged(role):
            auto = AutoMode.never
        decision = role_status(auto, RoleRecord(**stored), as_text(verhex), as_text(pubhex))
        if decision.reason:
            log.info("Rejection Reason: %s.", decision.reason)
        if dump and decision.write is not None:
            self.dump_remote_role(asdict(decision.write))
        return decision

    def status_role(self, role: str, verhex: str, pubhex: str, dump: bool = True) -> int:
        """Acceptance status of ``role`` with these keys, a plain ``Acceptance`` value (see
        :meth:`judge_role`)."""
        return self.judge_role(role, verhex, pubhex, dump).status.value

    def status_remote(self, remote: Keyed, dump: bool = True) -> int:
        """Judge the keys of ``remote`` and store the status in ``remote.acceptance``."""
        remote.acceptance = self.status_role(remote.role, remote.verhex, remote.pubhex, dump)
        return remote.acceptance

    def _set_acceptance(self, remote: Keyed, status: Acceptance) -> None:
        remote.acceptance = status.value
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
            self._files.remove(os.path.join(self.localdirpath, f"{self.prefix}.{ext}"))

    def clear_local_role(self) -> None:
        """Delete the local role file."""
        for ext in EXTS:
            path = os.path.join(self.localroledirpath, f"role.{ext}")
            self._store(path).remove(path)

    def clear_remote(self, name: str) -> None:
        """Delete the estate file of remote ``name``."""
        check_name(name, "remote name")
        for ext in EXTS:
            self._files.remove(os.path.join(self.remotedirpath, f"{self.prefix}.{name}.{ext}"))

    def clear_all_remotes(self) -> None:
        """Delete every remote estate file, and those set aside as damaged, and the
        delivery journal (what was delivered from them)."""
        self._remove_matching(self.remotedirpath, f"{self.prefix}.")
        self._files.remove(self.journalpath)

    # ----------------------------------------------------------------- delivery journal

    def append_journal(self, lines: bytes, sync: bool = False) -> None:
        """Add ``lines`` to the delivery journal (see :mod:`.journal`) at once; synced to
        stable storage with ``sync``."""
        self._files.append(self.journalpath, lines, sync)

    def load_journal(self) -> bytes:
        """The delivery journal's lines (none when there is no journal; a journal that is
        not a regular file is set aside, and none either)."""
        try:
            return self._files.read(self.journalpath) or b""
        except DamagedFile as ex:
            self._set_aside(self.journalpath, ex)
            return b""

    def rewrite_journal(self, lines: bytes) -> None:
        """Replace the delivery journal with ``lines`` (a compacted one), atomically."""
        with self._files.batch():
            self._files.write(self.journalpath, lines)

    def clear_remote_role(self, role: str) -> None:
        """Delete the file of remote role ``role``, and any damaged one set aside."""
        check_name(role, "role")
        for ext in EXTS:
            path = os.path.join(self.remoteroledirpath, f"role.{role}.{ext}")
            self._roles.remove(path)
            self._roles.remove(path + CORRUPT_SUFFIX)

    def clear_all_remote_roles(self) -> None:
        """Delete every remote role file, and those set aside as damaged."""
        self._remove_matching(self.remoteroledirpath, "role.")

    def clear_all(self) -> None:
        """Delete all keep files (directories stay)."""
        self.clear_local()
        self.clear_local_role()
        self.clear_all_remotes()
        self.clear_all_remote_roles()

    def clear_all_dir(self) -> None:
        """Delete the keep directory recursively; the next dump recreates it."""
        self._files.remove_tree()

    # ----------------------------------------------------------------- estates

    def dump_local_estate(self, local: Any) -> None:
        """Persist local estate ``local`` (of a road stack) and its role."""
        stack = local.stack
        self.dump_local(dict(name=local.name, uid=local.uid, ha=list(local.ha),
                             iha=local.iha, natted=local.natted, fqdn=local.fqdn,
                             dyned=local.dyned, sid=local.sid, puid=stack.puid,
                             aha=list(stack.ha), role=local.role))
        self.dump_local_estate_role(local)

    def dump_local_estate_role(self, local: Any) -> None:
        """Persist the role and secret keys of local estate ``local``."""
        self.dump_local_role(dict(role=local.role, sighex=local.signer.keyhex,
                                  prihex=local.priver.keyhex))

    def dump_remote_estate(self, remote: Any) -> None:
        """Persist remote record ``remote`` and, when it has keys, its role."""
        self.dump_remote(dict(name=remote.name, uid=remote.uid, fuid=remote.fuid,
                              ha=list(remote.ha), iha=remote.iha, natted=remote.natted,
                              fqdn=remote.fqdn, dyned=remote.dyned, sid=remote.sid,
                              main=remote.main, kind=remote.kind, joined=remote.joined,
                              role=remote.role))
        self.dump_remote_estate_role(remote)

    def dump_remote_estate_role(self, remote: Any) -> None:
        """Persist the keys and acceptance of ``remote``'s role, unless it has no keys."""
        if remote.verhex and remote.pubhex:
            self.dump_remote_role(dict(role=remote.role, acceptance=remote.acceptance,
                                       verhex=remote.verhex, pubhex=remote.pubhex))

    # ----------------------------------------------------------------- reference API
    # The method names of raet 0.6.8's keep, over the methods above.

    @staticmethod
    def dump(data: dict[str, Any], filepath: str) -> None:
        """Write ``data`` to ``filepath`` (its ext picks json or msgpack), owner-only."""
        path, ext = path_ext(filepath)
        directory = os.path.dirname(path)
        KeepFiles(directory, directory, effective_uid).write(
            path, encode({key: as_text(value) for key, value in data.items()}, ext))

    @staticmethod
    def load(filepath: str) -> dict[str, Any] | None:
        """The map in ``filepath`` (its ext picks json or msgpack); None when it is missing
        or unparsable."""
        path, ext = path_ext(filepath)
        directory = os.path.dirname(path)
        try:
            raw = KeepFiles(directory, directory, effective_uid).read(path)
            return None if raw is None else decode(raw, ext, path)
        except DamagedFile:
            return None

    def verifyLocalData(self, data: dict[str, Any], localFields: Any = None) -> bool:
        """Whether ``data`` has exactly the fields ``localFields`` (default LocalFields)."""
        return set(data) == set(self.LocalFields if localFields is None else localFields)

    def verifyRemoteData(self, data: dict[str, Any], remoteFields: Any = None) -> bool:
        """Whether ``data`` has exactly the fields ``remoteFields`` (default RemoteFields)."""
        return set(data) == set(self.RemoteFields if remoteFields is None else remoteFields)

    def loadLocalRoleData(self) -> dict[str, Any]:
        """The local role record; every field None when there is none."""
        data = RoadKeep.load_local_role(self)
        if data is None:
            return dict.fromkeys(LOCAL_ROLE_FIELDS)
        return {field: data[field] for field in LOCAL_ROLE_FIELDS}

    def dumpRemoteData(self, data: dict[str, Any], name: str) -> None:
        """Persist remote estate ``data`` as remote ``name`` (ours below: a subclass's
        override of this is what ``dump_remote`` runs)."""
        RoadKeep.dump_remote(self, {**data, "name": name})

    def dumpRemoteRoleData(self, data: dict[str, Any], role: str) -> None:
        """Persist remote role ``data`` as role ``role`` (as ``dumpRemoteData`` does)."""
        RoadKeep.dump_remote_role(self, {**data, "role": role})

    def dumpAllRemoteData(self, datadict: dict[str, dict[str, Any]]) -> None:
        for name, data in datadict.items():
            self.dumpRemoteData(data, name)

    def dumpAllRemoteRoleData(self, roles: dict[str, dict[str, Any]]) -> None:
        for role, data in roles.items():
            self.dumpRemoteRoleData(data, role)

    def loadAllRemoteRoleData(self) -> dict[str, Any]:
        """Every persisted remote role record by role."""
        roles = {}
        for entry in self._roles.listdir(self.remoteroledirpath):
            parts = split_entry(entry, "role.")
            if parts is not None and parts[1] == self.ext:
                roles[parts[0]] = self.load_remote_role(parts[0])
        return roles

    def loadRemote(self, remote: Any) -> dict[str, Any] | None:
        return self.load_remote(remote.name)

    def clearRemote(self, remote: Any) -> None:
        self.clear_remote(remote.name)

    def _rmdir(self, path: str) -> None:
        self._store(os.path.join(path, "")).remove_dir(path)

    def clearLocalDir(self) -> None:
        """Remove the (empty) local directory."""
        self._rmdir(self.localdirpath)

    def clearRemoteDir(self) -> None:
        """Remove the (empty) remote directory."""
        self._rmdir(self.remotedirpath)

    def clearLocalRoleDir(self) -> None:
        """Remove the (empty) local role directory."""
        self._rmdir(self.localroledirpath)

    def clearRemoteRoleDir(self) -> None:
        """Remove the (empty) remote role directory."""
        self._rmdir(self.remoteroledirpath)

    def clearRoleDir(self) -> None:
        """Remove the (empty) role directory."""
        self._rmdir(self.roledirpath)

    loadLocalData = load_local
    dumpLocalData = dump_local
    dumpLocalRoleData = dump_local_role
    clearLocalData = clear_local
    clearLocalRoleData = clear_local_role
    loadRemoteData = load_remote
    loadRemoteRoleData = load_remote_role
    loadAllRemoteData = load_all_remotes
    clearRemoteData = clear_remote
    clearAllRemoteData = clear_all_remotes
    clearRemoteRoleData = clear_remote_role
    clearAllRemoteRoleData = clear_all_remote_roles
    dumpLocal = dump_local_estate
    dumpLocalRole = dump_local_estate_role
    dumpRemote = dump_remote_estate
    dumpRemoteRole = dump_remote_estate_role
    statusRole = status_role
    statusRemote = status_remote
    acceptRemote = accept_remote
    pendRemote = pend_remote
    rejectRemote = reject_remote
    clearAllDir = clear_all_dir


def clearAllKeep(dirpath: str) -> None:
    """Delete every file of the road keep in ``dirpath`` (its directories stay)."""
    RoadKeep(dirpath=dirpath).clear_all()
