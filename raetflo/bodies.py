"""Message bodies decoded into a chosen mapping type (nested maps too): plain ``dict`` for
the cores, ioflo's ``odict`` for the polled drivers, as the reference delivers."""
from __future__ import annotations

import json
from typing import Any, Callable

import msgpack

_json_decoders: dict[Any, json.JSONDecoder] = {}
# quicker ways to build a mapping type from the (key, value) pairs of a decoded map, by
# type (a driver registers its own); a dict is built by the decoders themselves
BUILDERS: dict[type, Callable[[list[tuple[Any, Any]]], Any]] = {}


def _hook(mapping: type) -> Callable[..., Any] | None:
    return None if mapping is dict else BUILDERS.get(mapping, mapping)


def from_json(text: str, mapping: type = dict) -> Any:
    """Decode JSON ``text``; ValueError or RecursionError when it is not JSON."""
    decoder = _json_decoders.get(mapping)
    if decoder is None:
        decoder = _json_decoders[mapping] = json.JSONDecoder(object_pairs_hook=_hook(mapping))
    return decoder.decode(text)


def from_msgpack(data: bytes, mapping: type = dict) -> Any:
    """Decode msgpack ``data`` (text as str, any map key); msgpack's errors when it is not."""
    return msgpack.unpackb(data, raw=False, strict_map_key=False,
                           object_pairs_hook=_hook(mapping))
