"""Yards: socket path naming, name rules, default directories, ids."""
from __future__ import annotations

import os
import re

import pytest

from raetflo.lane import yarding
from raetflo.lane.yarding import RemoteYard, Yard, YardError


def test_uuid_is_time_then_random_hex():
    ids = {yarding.uuid() for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"[0-9a-f]{18}", sid) for sid in ids)
    assert len(yarding.uuid(32)) == 32


def test_computeHa_makes_an_owner_only_directory(sockdir):
    dirpath = os.path.join(sockdir, "a", "lane")
    ha, normal = yarding.computeHa(dirpath + "/", "zeus", "alpha")
    assert (ha, normal) == (os.path.join(dirpath, "zeus.alpha.uxd"), dirpath)
    assert os.stat(dirpath).st_mode & 0o777 == 0o700


def test_default_directory_and_its_fallback(sockdir, monkeypatch):
    monkeypatch.setattr(yarding, "YARD_UXD_DIR", os.path.join(sockdir, "default"))
    monkeypatch.setattr(yarding, "ALT_YARD_UXD_DIR", os.path.join(sockdir, "alt"))
    assert yarding.computeHa("", "lane", "y")[1] == os.path.join(sockdir, "default")
    blocker = os.path.join(sockdir, "file")
    open(blocker, "w").close()  # a directory cannot be made under a file
    monkeypatch.setattr(yarding, "YARD_UXD_DIR", os.path.join(blocker, "sub"))
    assert yarding.computeHa("", "lane", "y") == (os.path.join(sockdir, "alt", "lane.y.uxd"),
                                                   os.path.join(sockdir, "alt"))
    monkeypatch.setattr(yarding, "ALT_YARD_UXD_DIR", os.path.join(blocker, "alt"))
    with pytest.raises(YardError):
        yarding.computeHa("", "lane", "y")


def test_namesFromHa_splits_at_the_last_dot():
    assert yarding.namesFromHa("/x/y/zeus.alpha.uxd") == ("zeus", "alpha")
    assert yarding.namesFromHa("/x/a.b.c.uxd") == ("a.b", "c")
    for ha in ("/x/zeus.alpha.sock", "/x/alpha.uxd", "/x/.alpha.uxd", "/x/zeus..uxd"):
        with pytest.raises(YardError):
            yarding.namesFromHa(ha)


@pytest.mark.parametrize("name", ["a.b", "a b", "a/b", "a\nb", "a\x00", "caf\u2603", 7])
def test_bad_yard_names(sockdir, name):
    with pytest.raises(YardError):
        Yard(name=name, dirpath=sockdir)


def test_lane_names_may_hold_dots_but_not_spaces(sockdir):
    assert Yard(name="y", lanename="a.b", dirpath=sockdir).ha.endswith("/a.b.y.uxd")
    with pytest.raises(YardError):
        Yard(name="y", lanename="a b", dirpath=sockdir)


def test_yard_from_ha(sockdir):
    ha = os.path.join(sockdir, "zeus.beta.uxd")
    yard = Yard(ha=ha)
    assert (yard.name, yard.lanename, yard.dirpath, yard.ha) == ("beta", "zeus", sockdir, ha)
    assert Yard(ha=ha, name="beta", lanename="zeus").ha == ha
    with pytest.raises(YardError):
        Yard(ha=ha, lanename="lane")
    with pytest.raises(YardError):
        Yard(ha=ha, name="gamma")


def test_generated_names_and_ids(sockdir):
    yard = Yard(dirpath=sockdir)
    assert re.fullmatch(r"lane_[0-9a-f]{18}", yard.name)
    assert yard.lanename == "lane" and yard.uid is None and yard.bid == 0
    assert [yard.nextBid(), yard.nextBid()] == [1, 2]
    yard.bid = 0xFFFFFFFF
    assert yard.nextBid() == 1
    old = yard.sid
    assert yard.nextSid() == yard.sid != old


def test_remote_yard_defaults_to_its_stack_lane_and_directory(make_lane, sockdir):
    from raetflo.lane.stacking import LaneStack
    stack = make_lane(LaneStack, "alpha", sockdirpath=os.path.join(sockdir, "lane"))
    remote = RemoteYard(stack=stack, name="beta")
    assert remote.ha == os.path.join(sockdir, "lane", "zeus.beta.uxd")
    assert (remote.uid, remote.rsid) == (2, 0)
    assert re.fullmatch(r"yard_[0-9a-f]{18}", RemoteYard(stack=stack).name)
    other = RemoteYard(stack=stack, name="beta", lanename="hera",
                       dirpath=os.path.join(sockdir, "elsewhere"))
    assert other.ha == os.path.join(sockdir, "elsewhere", "hera.beta.uxd")
    assert not os.path.exists(os.path.join(sockdir, "elsewhere"))  # remotes make no dirs
