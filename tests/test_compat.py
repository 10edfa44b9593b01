"""Drop-in compatibility with raet 0.6.8, each checked against what the reference does."""
from __future__ import annotations

import msgpack
import pytest
from ioflo.aid.odicting import odict

from raetflo.raeting import BodyKind
from raetflo.road.packeting import decode_body

from .interop import refshim

refshim.install()

from raet.road import packeting as ref_packeting  # noqa: E402

BODIES = [(BodyKind.json, b'{"z":{"a":[{"b":1}]},"a":2}'),
          (BodyKind.json, b""),
          (BodyKind.msgpack, msgpack.packb({"z": {"a": 1}, "a": [{"b": 2}]})),
          (BodyKind.nada, b"")]


def reference_body(bk: int, data: bytes) -> object:
    """What the reference's receive packet makes of a body of kind ``bk``."""
    packet = ref_packeting.RxPacket()
    packet.data["bk"] = int(bk)
    packet.body.packed = data
    packet.body.parse()
    return packet.body.data


@pytest.mark.parametrize(("bk", "data"), BODIES)
def test_bodies_decode_to_odicts_as_the_reference_does(bk, data):
    ours, theirs = decode_body(bk, data), reference_body(bk, data)
    assert type(ours) is odict and repr(ours) == repr(theirs)  # nested maps are odicts too
