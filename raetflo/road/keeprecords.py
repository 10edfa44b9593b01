"""The keep's records on disk: their field lists, file formats (json, msgpack) and checks,
and the names a keep file may have. Pure functions; :mod:`.keeping` reads and writes the
files through :mod:`.keepfiles`."""
from __future__ import annotations

import functools
import json
import os
import re
from typing import Any

import msgpack

from raetflo.raeting import Acceptance
from raetflo.road import naming
from raetflo.road.keepfiles import CORRUPT_SUFFIX, DamagedFile, KeepError

LOCAL_FIELDS = ("name", "uid", "ha", "iha", "natted", "fqdn", "dyned", "sid", "puid", "aha",
                "role")
LOCAL_ROLE_FIELDS = ("role", "sighex", "prihex")
REMOTE_FIELDS = ("name", "uid", "fuid", "ha", "iha", "natted", "fqdn", "dyned", "sid", "main",
                 "kind", "joined", "role")
REMOTE_ROLE_FIELDS = ("role", "acceptance", "verhex", "pubhex")
# Field order of the merged (estate + role) records returned by the loads.
LOCAL_MERGED_FIELDS = LOCAL_FIELDS + LOCAL_ROLE_FIELDS[1:]
REMOTE_MERGED_FIELDS = REMOTE_FIELDS + REMOTE_ROLE_FIELDS[1:]

EXTS = ("json", "msgpack")
FILE_NAME_BYTES = 255  # longest file name (UTF-8 bytes) the keep relies on
MAX_PREFIX_BYTES = 16  # bounds the estate file prefix
# Bounds a remote or role name so that "<prefix>.<name>.msgpack.corrupt" fits FILE_NAME_BYTES.
MAX_NAME_BYTES = naming.MAX_NAME_BYTES
assert MAX_NAME_BYTES == (FILE_NAME_BYTES - MAX_PREFIX_BYTES - len("..msgpack")
                          - len(CORRUPT_SUFFIX))
LOCAL_HINT = ("restore it from a backup, or start the stack with cleanlocal=True (or "
              "clean=True) to make a new identity on purpose")

_KEY_HEX = re.compile(r"[0-9a-fA-F]{64}")


def effective_uid() -> int:
    """The uid that must own every keep directory and file (asked on every check)."""
    return os.geteuid()


def check_name(name: Any, what: str = "name", limit: int = MAX_NAME_BYTES) -> str:
    """``name`` if it is safe as part of one file name (see ``naming.check_name``), else
    :class:`KeepError`."""
    try:
        return naming.check_name(name, what, limit)
    except ValueError as ex:
        raise KeepError(str(ex)) from None



def as_text(value: Any) -> Any:
    """Bytes as UTF-8 text, enum members as plain ints, anything else unchanged."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, Acceptance):
        return int(value)
    return value


def record_of(data: dict[str, Any], fields: tuple[str, ...], what: str) -> dict[str, Any]:
    """The ``fields`` of ``data`` in file order; every one must be present."""
    missing = [field for field in fields if field not in data]
    if missing:
        raise ValueError(f"{what} data lacks field(s) {', '.join(missing)}")
    return {field: as_text(data[field]) for field in fields}


def encode(data: dict[str, Any], ext: str) -> bytes:
    """``data`` as the content of a keep file of format ``ext``."""
    if ext == "json":
        return json.dumps(data, indent=2).encode("utf-8")
    return msgpack.packb(data, use_bin_type=False)


def decode(raw: bytes, ext: str, path: str) -> dict[str, Any]:
    """The map in ``raw``, the content of keep file ``path`` of format ``ext``.

    :class:`DamagedFile` when it is not a map in that format.
    """
    try:
        if ext == "json":
            data = json.loads(raw.decode("utf-8"))
        else:
            data = msgpack.unpackb(raw, raw=False, strict_map_key=False)
    except (ValueError, TypeError, RecursionError, msgpack.UnpackException) as ex:
        raise DamagedFile(f"Keep file '{path}' is corrupt: {str(ex)[:200]}") from None
    if not isinstance(data, dict):
        raise DamagedFile(f"Keep file '{path}' is corrupt: not a map")
    return data


def split_entry(entry: str, start: str) -> tuple[str, str] | None:
    """``(middle, ext)`` of a file name ``<start><middle>.<ext>`` with a keep ext, else None."""
    if not entry.startswith(start):
        return None
    middle, _, ext = entry[len(start):].rpartition(".")
    return (middle, ext) if middle and ext in EXTS else None


@functools.cache
def field_set(fields: tuple[str, ...]) -> frozenset[str]:
    """``fields`` as a set, made once per field list."""
    return frozenset(fields)


def check_fields(data: dict[str, Any], fields: tuple[str, ...], path: str) -> None:
    """Raise :class:`DamagedFile` unless ``data`` has exactly ``fields``."""
    if data.keys() == field_set(fields):
        return
    missing = [field for field in fields if field not in data]
    extra = [str(field) for field in data if field not in fields]
    if missing or extra:
        problems = ([f"lacks {', '.join(missing)}"] if missing else []) + \
                   ([f"has unexpected {', '.join(extra)}"] if extra else [])
        raise DamagedFile(f"Keep file '{path}' has the wrong fields: {'; '.join(problems)}")


INT_FIELDS = ("uid", "fuid", "sid", "puid")  # ids a record uses as numbers
STR_FIELDS = ("name", "role")


def check_types(data: dict[str, Any], path: str) -> None:
    """Raise :class:`DamagedFile` unless the ids of an estate record are integers, its
    names strings and its ``ha`` a (host, port) pair (the other fields are read as raet
    writes them)."""
    for field in INT_FIELDS:
        if field in data and type(data[field]) is not int:
            raise DamagedFile(f"Keep file '{path}' has a bad {field}: not an integer")
    for field in STR_FIELDS:
        if field in data and not isinstance(data[field], str):
            raise DamagedFile(f"Keep file '{path}' has a bad {field}: not a string")
    ha = data.get("ha")
    if not (isinstance(ha, (list, tuple)) and len(ha) == 2 and isinstance(ha[0], str)
            and type(ha[1]) is int):
        raise DamagedFile(f"Keep file '{path}' has a bad ha: not a (host, port) pair")


def check_key(data: dict[str, Any], field: str, path: str, optional: bool = False) -> None:
    """Raise :class:`DamagedFile` unless ``data[field]`` is a key as 64 hex digits.

    With ``optional`` an absent key (``None`` or empty) is fine too.
    """
    value = data[field]
    if optional and value in (None, ""):
        return
    if not isinstance(value, str) or not _KEY_HEX.fullmatch(value):
        raise DamagedFile(f"Keep file '{path}' has a bad {field}: not a key of 64 hex digits")


def path_ext(filepath: str) -> tuple[str, str]:
    """The absolute ``filepath`` and its keep format; KeepError for any other ext."""
    path = os.path.abspath(os.path.expanduser(filepath))
    ext = os.path.splitext(path)[1].lstrip(".")
    if ext not in EXTS:
        raise KeepError(f"Invalid keep file path '{filepath}': ext not one of {EXTS}")
    return path, ext
