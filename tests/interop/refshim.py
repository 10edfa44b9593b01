"""Runtime patches that let the reference raet 0.6.8 (and ioflo 2.0.3) run on Python 3.11.

Call :func:`install` before importing ``raet`` or ``ioflo``. It only patches the running
interpreter (nothing on disk) and is idempotent. Test use only; never part of the package.
"""
from __future__ import annotations

import collections
import collections.abc
import functools
import json
from typing import Any, Callable

import msgpack

_ABC_NAMES = ("Mapping", "MutableMapping", "Sequence", "MutableSet", "Set", "Iterable",
              "Callable", "Hashable", "MutableSequence", "Container", "Sized", "Iterator",
              "KeysView", "ItemsView", "ValuesView")
_MARK = "_refshim_wrapped"


def _json_loads(loads: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``json.loads`` so the pre-3.9 ``encoding`` keyword is accepted and ignored."""
    @functools.wraps(loads)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs.pop("encoding", None)
        return loads(*args, **kwargs)
    setattr(wrapper, _MARK, True)
    return wrapper


def _msgpack(func: Callable[..., Any], legacy: dict[str, Any]) -> Callable[..., Any]:
    """Wrap a msgpack function: a call with ``encoding=`` gets the pre-1.0 behaviour."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if "encoding" in kwargs:
            del kwargs["encoding"]
            kwargs.update(legacy)
        return func(*args, **kwargs)
    setattr(wrapper, _MARK, True)
    return wrapper


def install() -> None:
    """Patch ``collections``, ``json.loads`` and msgpack's pack/unpack functions."""
    for name in _ABC_NAMES:
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))
    if not getattr(json.loads, _MARK, False):
        json.loads = _json_loads(json.loads)
    packing = {"use_bin_type": False}
    unpacking = {"raw": False, "strict_map_key": False}
    for name, legacy in (("pack", packing), ("packb", packing), ("dump", packing),
                         ("dumps", packing), ("unpack", unpacking), ("unpackb", unpacking),
                         ("load", unpacking), ("loads", unpacking)):
        func = getattr(msgpack, name)
        if not getattr(func, _MARK, False):
            setattr(msgpack, name, _msgpack(func, legacy))
