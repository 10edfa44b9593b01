"""Drop-in compatibility with raet 0.6.8, each checked against what the reference does."""
from __future__ import annotations

import inspect
import json

import msgpack
import pytest
from hypothesis import given, settings, strategies as st
from ioflo.aid.odicting import odict

from raetflo.lane import stacking as lane_stacking
from raetflo.lane import yarding
from raetflo.raeting import BodyKind
from raetflo.road import estating, keeping
from raetflo.road import stacking as road_stacking
from raetflo.road.packeting import decode_body

from .interop import refshim

refshim.install()

from raet.lane import stacking as ref_lane_stacking  # noqa: E402
from raet.lane import yarding as ref_yarding  # noqa: E402
from raet.road import estating as ref_estating  # noqa: E402
from raet.road import keeping as ref_keeping  # noqa: E402
from raet.road import packeting as ref_packeting  # noqa: E402
from raet.road import stacking as ref_road_stacking  # noqa: E402

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
    ours, theirs = decode_body(bk, data, odict), reference_body(bk, data)
    assert type(ours) is odict and repr(ours) == repr(theirs)  # nested maps are odicts too
    plain = decode_body(bk, data)  # the core's default: plain dicts, nested too
    assert type(plain) is dict and plain == theirs


def test_a_road_stack_delivers_odicts_and_a_bare_core_dicts():
    from raetflo.road.core import RoadCore
    from raetflo.road.stacking import RoadStack
    assert RoadStack.BodyMap is odict and RoadCore.BodyMap is dict


# ---------------------------------------------------------------- unknown keyword arguments

def keyword_names(cls: type) -> set[str]:
    """The keyword names declared by the ``__init__`` methods along ``cls``'s MRO."""
    names: set[str] = set()
    for klass in cls.__mro__[:-1]:
        if "__init__" in klass.__dict__:
            params = inspect.signature(klass.__dict__["__init__"]).parameters.values()
            names.update(param.name for param in params
                         if param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY))
    return names - {"self"}


IMPLS = {"raetflo": (road_stacking, estating, keeping, lane_stacking, yarding),
         "raet": (ref_road_stacking, ref_estating, ref_keeping, ref_lane_stacking, ref_yarding)}
CLASSES = {"RoadStack": (0, "RoadStack"), "RemoteEstate": (1, "RemoteEstate"),
           "LocalEstate": (1, "LocalEstate"), "RoadKeep": (2, "RoadKeep"),
           "LaneStack": (3, "LaneStack"), "RemoteYard": (4, "RemoteYard")}


def cls_of(impl: str, name: str) -> type:
    """Class ``name`` of implementation ``impl``."""
    index, attr = CLASSES[name]
    return getattr(IMPLS[impl][index], attr)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_every_reference_keyword_is_known(name):
    assert keyword_names(cls_of("raet", name)) <= keyword_names(cls_of("raetflo", name))


@pytest.fixture
def build(tmp_path, ha, sockdir):
    """``build(impl, name, **kwa)``: an instance of class ``name`` of ``impl`` (stacks closed)."""
    stacks = []

    def stack(impl: str, name: str, **kwa):
        label = f"{impl}{len(stacks)}"
        place = ({"ha": ha(), "dirpath": str(tmp_path / label)} if name == "RoadStack"
                 else {"sockdirpath": sockdir, "name": label})
        stacks.append(cls_of(impl, name)(**place, **kwa))
        return stacks[-1]

    def make(impl: str, name: str, **kwa):
        if name.endswith("Stack"):
            return stack(impl, name, **kwa)
        if name == "RoadKeep":
            return cls_of(impl, name)(stackname="k", basedirpath=str(tmp_path / impl), **kwa)
        host = stack(impl, "RoadStack" if name.endswith("Estate") else "LaneStack")
        return cls_of(impl, name)(stack=host, **kwa)

    yield make
    for made in stacks:
        made.server.close()


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_a_keyword_nobody_knows_raises_type_error_naming_it(name, build):
    build("raetflo", name)  # the call without it works
    with pytest.raises(TypeError, match="'mian'"):
        build("raetflo", name, mian=True)


@pytest.mark.parametrize("name", sorted(set(CLASSES) - {"RoadKeep"}))  # its Keep swallows **kwa
def test_the_reference_refuses_it_too(name, build):
    build("raet", name)
    with pytest.raises(TypeError, match="'mian'"):
        build("raet", name, mian=True)


@pytest.mark.parametrize("module, names", [
    ("raeting", ["PACKET_DEFAULTS", "VERSIONS", "PAGE_DEFAULTS", "AutoMode"]),
    ("road.packeting", ["TxPacket", "RxPacket", "TxTray", "RxTray", "Head"]),
    ("lane.paging", ["TxPage", "RxPage", "TxBook", "RxBook"]),
    ("road.transacting", ["PcktKind", "TrnsKind", "Acceptance", "Joiner"]),
    ("road.stacking", ["PcktKind", "BodyKind", "RoadStack"]),
    ("lane.stacking", ["PackKind", "LaneStack"])])
def test_star_imports_give_the_names_raet_code_takes_from_them(module, names):
    """``from raet.<module> import *`` brings these; names made when first used too."""
    namespace: dict = {}
    exec(f"from raetflo.{module} import *", namespace)
    assert [name for name in names if name not in namespace] == []


def test_timers_read_as_ioflo_s_store_timers():
    """elapsed and remaining stop at 0, and restart, extend and repeat return (start,
    stop), as ioflo's StoreTimer does, so code written against raet's timers reads ours."""
    from ioflo.aid.timing import StoreTimer
    from ioflo.base.storing import Store

    from raetflo.timing import Timer

    store = Store(stamp=10.0)
    clock = type("Clock", (), {"now": property(lambda self: store.stamp)})()
    ours, theirs = Timer(clock, duration=2.0), StoreTimer(store, duration=2.0)
    steps = [("restart", ()), ("advance", 0.5), ("extend", ()), ("advance", 5.0),
             ("repeat", ()), ("restart", (11.0, 1.0)), ("advance", 3.0)]
    for step, arg in steps:
        if step == "advance":
            store.advanceStamp(arg)
        else:
            assert getattr(ours, step)(*arg) == getattr(theirs, step)(*arg), step
        for name in ("elapsed", "remaining", "expired", "stop"):
            assert getattr(ours, name) == getattr(theirs, name), (step, name)


def test_stacks_are_counted_as_raet_counts_them(tmp_path):
    from raetflo.lane.stacking import LaneStack
    from raetflo.road.stacking import RoadStack
    before = RoadStack.Count
    stack = LaneStack(name="counted", lanename="count", sockdirpath=str(tmp_path))
    assert LaneStack.Count == RoadStack.Count == before + 1
    stack.server.close()


@settings(max_examples=200, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from("abcde"), st.integers(-2**63, 2**63 - 1)), max_size=8))
def test_bodies_decode_to_the_odicts_odict_itself_makes(pairs):
    from raetflo.bodies import from_json, from_msgpack
    from raetflo.stacking import odict_of
    made, theirs = odict_of(pairs), odict(pairs)
    assert type(made) is odict and made == theirs
    assert list(made.keys()) == list(theirs.keys()) and list(made.items()) == list(theirs.items())
    made["z"], theirs["z"] = 1, 1
    assert list(made.keys()) == list(theirs.keys())
    body = {"outer": dict(pairs), "list": [dict(pairs), {}]}
    for decoded in (from_json(json.dumps(body), odict),
                    from_msgpack(msgpack.packb(body), odict)):
        assert decoded == body and type(decoded["list"][1]) is odict
        assert list(decoded["outer"].keys()) == list(dict(pairs).keys())


@pytest.mark.parametrize("module", ["raeting", "road.packeting", "road.transacting",
                                    "lane.paging"])
def test_names_made_when_first_used_are_listed_by_dir(module):
    """``dir()`` of a module lists the names it makes when first used (raet code walks a
    module's names, as ``from ... import *`` does)."""
    import importlib
    mod = importlib.import_module(f"raetflo.{module}")
    assert [name for name in mod.__all__ if name not in dir(mod)] == []
