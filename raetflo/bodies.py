"""Message bodies decoded into a chosen mapping type (nested maps too): plain ``dict`` for
the cores, ioflo's ``odict`` for the polled drivers, as the reference delivers."""
from __future__ import annotations

import json
from typing import Any

import msgpack

_json_decoders: dict[type, json.JSONDecoder] = {}


def from_json(text: str, mapping: type = dict) -> Any:
    """Decode JSON ``text``; ValueError or RecursionError when it is not JSON."""
    decoder = _json_decoders.get(mapping)
    if decoder is None:
        decoder = _json_decoders[mapping] = json.JSONDecoder(object_pairs_hook=mapping)
    return decoder.decode(text)


def from_msgpack(data: bytes, mapping: type = dict) -> Any:
    """Decode msgpack ``data`` (text as str, any map key); msgpack's errors when it is not."""
    return msgpack.unpackb(data, raw=False, strict_map_key=False, object_pairs_hook=mapping)
