"""Presence Deeds: run a RoadStack's presence and publish it; accept or reject estates.

Shares under the stack's inode, ``road.`` unless the flo gives another (``via``):

=====================  ==================================================  ==========  =========
share                  fields                                              written by  read by
=====================  ==================================================  ==========  =========
``presence``           joined, allowed, alived, dead, reaped, pending,     manager     the flo
                       rejected (lists of names); changed (plus, minus)
``tally.<field>``      value: the count of names in that presence field   manager     the flo
``estate.<name>``      joined, allowed, alived, dead, reaped, acceptance   manager     the flo
                       ("pending", "accepted", "rejected" or None), host,
                       port
``acceptance``         accept, reject: a name or a list of names           the flo     acceptor
=====================  ==================================================  ==========  =========
"""
from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from ioflo.aid.odicting import odict
from ioflo.aid.timing import StoreTimer
from ioflo.base.deeding import Deed
from ioflo.base.storing import Share

from ..raeting import Acceptance
from ..road.estating import RemoteEstate
from ..road.keeping import KeepError
from ..road.stacking import RoadStack
from .common import console, path
from .roading import INODE, RoadDeed

LISTS = ("joined", "allowed", "alived", "dead", "reaped", "pending", "rejected")
ESTATE = ("joined", "allowed", "alived", "dead", "reaped", "acceptance", "host", "port")


def acceptance_name(value: int | None) -> str | None:
    """The name of an ``Acceptance`` value ("pending", "accepted", "rejected"), or None."""
    return None if value is None else Acceptance(value).name


def estate_fields(remote: RemoteEstate, present: bool) -> dict[str, Any]:
    """What share ``estate.<name>`` says of ``remote``; one no longer in the stack
    (``present`` False) is neither joined, allowed nor alive."""
    live = (remote.joined, remote.allowed, remote.alived) if present else (False,) * 3
    return dict(zip(ESTATE, (*live, remote.alived is False, remote.reaped,
                             acceptance_name(remote.acceptance), remote.ha[0], remote.ha[1])))


def presence_lists(estates: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """The names in each presence list, from the estate fields of each name."""
    tests = {"joined": lambda e: e["joined"], "allowed": lambda e: e["allowed"],
             "alived": lambda e: e["alived"], "dead": lambda e: e["dead"],
             "reaped": lambda e: e["reaped"],
             "pending": lambda e: e["acceptance"] == "pending",
             "rejected": lambda e: e["acceptance"] == "rejected"}
    return {field: [name for name, estate in estates.items() if test(estate)]
            for field, test in tests.items()}


def differences(old: dict[str, list[str]], new: dict[str, list[str]]) -> str:
    """``field +name -name`` for each presence list that changed, joined by "; "."""
    parts = []
    for field in LISTS:
        before, after = set(old.get(field, ())), set(new[field])
        signs = [f"+{name}" for name in sorted(after - before)]
        signs += [f"-{name}" for name in sorted(before - after)]
        if signs:
            parts.append(f"{field} {' '.join(signs)}")
    return "; ".join(parts)


def update(share: Share, fields: dict[str, Any]) -> None:
    """Write ``fields`` into ``share`` when any differs from what it holds."""
    if any(share.fetch(key) != value for key, value in fields.items()):
        share.update(fields)


class RoadStackManager(RoadDeed, Deed):
    """``do road stack manager [with immediate True]``, in a recur context: run presence.

    Every ``stack.period`` seconds (and on its first run) it runs ``stack.manage()``: alives
    that are due start (with ``immediate`` True, to every remote on the first run) and a
    main reaps the remotes silent past ``stack.interim``. Every run it publishes:

    * ``presence`` (write): lists of remote names ``joined``, ``allowed``, ``alived``,
      ``dead`` (an alive failed), ``reaped``, ``pending`` and ``rejected`` (by the keep's
      verdict on their keys), and ``changed``: ``plus`` and ``minus``, the names that came
      alive and went away at the last manage;
    * ``tally.<field>`` (write), one share per field of ``presence`` under the stack's
      inode, its ``value`` the count of names (``changed``: of plus and minus), so a flo
      can ``go next if .road.tally.alived >= 3``;
    * ``estate.<name>`` (write), one share per remote under the stack's inode:
      ``joined``, ``allowed``, ``alived``, ``dead``, ``reaped``, ``acceptance`` ("pending",
      "accepted", "rejected"), ``host``, ``port``. A remote the stack removes (a rejected
      one, say) keeps its share, no longer joined, allowed or alive.

    Ioinits (inode ``road.``): ``stack`` (read), ``presence`` (write). Each
    change of the lists is told in one concise console line.
    """

    MaxEstates = 1024  # bounds the remotes (names) given an estate share and remembered
    Ioinits = odict(inode=INODE, stack="stack",
                    presence=odict(ipath="presence",
                                   ival=odict({**{f: [] for f in LISTS},
                                               "changed": odict(plus=[], minus=[])})))

    def __init__(self, **kwa: Any) -> None:
        super().__init__(**kwa)
        self.timer = StoreTimer(self.store)
        self.managed = False  # manage has run once
        self.seen: dict[str, RemoteEstate] = {}  # name -> last record of a remote named
        self.lists: dict[str, list[str]] = {}  # the presence lists last published
        self.full = False  # MaxEstates was reached (told once)
        self.published = -1  # the stack's presence_version last published

    def action(self, immediate: bool = False, **kwa: Any) -> None:
        stack = self.opened()
        if not self.managed or self.timer.expired:
            stack.manage(cascade=True, immediate=bool(immediate) and not self.managed)
            self.managed = True
            self.timer.restart(duration=stack.period)
            self.published = -1
        self.publish_changes(stack)

    def publish_changes(self, stack: RoadStack) -> None:
        """Publish after a manage, or when a link, record or acceptance changed since the
        last publish (the stack's ``presence_version``); else nothing has to be rescanned."""
        if stack.presence_version != self.published:
            self.publish(stack)
            self.published = stack.presence_version

    def publish(self, stack: RoadStack) -> None:
        """Write the estate shares, then the presence and tally the flo reads."""
        current = self.remember(stack)
        estates = {name: estate_fields(remote, current.get(name) is remote)
                   for name, remote in self.seen.items()}
        for name, fields in estates.items():
            update(self.store.create(f"{self.prefix()}.estate.{name}"), fields)
        lists = presence_lists({name: estates[name] for name in current if name in estates})
        lists["rejected"] = [name for name, fields in estates.items()
                             if fields["acceptance"] == "rejected"]
        changes, self.lists = differences(self.lists, lists), lists
        if changes:
            console().concise(f"Road stack '{stack.name}' presence: {changes}\n")
        changed = odict(plus=sorted(stack.changeds["plus"]),
                        minus=sorted(stack.changeds["minus"]))
        update(self.presence, {**lists, "changed": changed})
        counts = {**{f: len(names) for f, names in lists.items()},
                  "changed": len(changed["plus"]) + len(changed["minus"])}
        for field, count in counts.items():
            update(self.store.create(f"{self.prefix()}.tally.{field}"), {"value": count})

    def remember(self, stack: RoadStack) -> dict[str, RemoteEstate]:
        """Note the stack's remotes (up to ``MaxEstates`` names) and forget the names a
        remote left by a rename; the stack's remotes by name."""
        current = {remote.name: remote for remote in stack.remotes.values()}
        for name, remote in list(self.seen.items()):
            if current.get(name) is not remote and stack.remotes.get(remote.uid) is remote:
                del self.seen[name]
        for name, remote in current.items():
            if name in self.seen or len(self.seen) < self.MaxEstates:
                self.seen[name] = remote
            elif not self.full:
                self.full = True
                stack.incStat("estate_share_overload")
                console().terse(f"Road stack '{stack.name}': {self.MaxEstates} estate shares, "
                                f"none made for '{name}' and later new remotes\n")
        return current

    def prefix(self) -> str:
        """The stack's share path without its last part (``.road`` for ``.road.stack``)."""
        return path(self.stack).rsplit(".", 1)[0]


class RoadStackAcceptor(RoadDeed, Deed):
    """``do road stack acceptor [with accept "PATTERN"] [with reject "PATTERN"]``, in a
    recur context: decide on the estates pending acceptance.

    A pending remote whose name matches the ``reject`` glob (``fnmatch``; "*" matches all)
    is rejected, else one matching ``accept`` is accepted. Without parameters the names
    (or globs) in share ``acceptance`` fields ``accept`` and ``reject`` (a name or a list
    of names, set by the flo, another Deed or Python) decide the same way. A decision is
    persisted in the keep (as ``keep.acceptRemote``/``rejectRemote`` do): the joiner's
    pending join completes, or is refused, without a restart; the remote's role stays
    decided in later runs.

    Ioinits (inode ``road.``): ``stack`` (read), ``acceptance`` (read). Stops the run
    with one line (FloError) when a pattern is not a string or a list of strings. A keep
    that cannot be written is counted (``keep_error``) and told; the next run tries again.
    A run scans the remotes only when the stack's presence (``presence_version``: a remote
    came, went or changed acceptance) or the patterns changed since the last scan.
    """

    Ioinits = odict(inode=INODE, stack="stack",
                    acceptance=odict(ipath="acceptance", ival=odict(accept=[], reject=[])))

    def __init__(self, **kwa: Any) -> None:
        super().__init__(**kwa)
        self.scanned: tuple[Any, ...] | None = None  # what the last full scan decided on

    def action(self, accept: Any = None, reject: Any = None, **kwa: Any) -> None:
        stack = self.opened()
        given = accept is not None or reject is not None
        accepts = self.patterns(accept if given else self.acceptance.fetch("accept"), "accept")
        rejects = self.patterns(reject if given else self.acceptance.fetch("reject"), "reject")
        seen = (id(stack), stack.presence_version, tuple(accepts), tuple(rejects))
        if seen == self.scanned:
            return  # no remote and no pattern changed since a scan that decided all it could
        settled = True
        for remote in list(stack.remotes.values()):
            if remote.acceptance != Acceptance.pending:
                continue
            if any(fnmatchcase(remote.name, p) for p in rejects):
                settled &= self.decide(stack, remote, stack.keep.rejectRemote, "rejected")
            elif any(fnmatchcase(remote.name, p) for p in accepts):
                settled &= self.decide(stack, remote, stack.keep.acceptRemote, "accepted")
        self.scanned = (id(stack), stack.presence_version, *seen[2:]) if settled else None

    def patterns(self, value: Any, field: str) -> list[str]:
        """``value`` (None, a string or a list of strings) as a list of globs."""
        if value is None:
            return []
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
            raise self.fail(f"'{field}' must be a name or a list of names, not {value!r} "
                            f"(parameter or field of share '{path(self.acceptance)}')")
        return list(names)

    @staticmethod
    def decide(stack: RoadStack, remote: RemoteEstate, persist: Any, verdict: str) -> bool:
        """Persist the verdict on ``remote`` with ``persist`` and tell it; False when the
        keep failed (the next run tries again)."""
        try:
            persist(remote)
        except KeepError as ex:
            stack.incStat("keep_error")
            console().terse(f"Road stack '{stack.name}': could not persist that remote "
                            f"'{remote.name}' is {verdict}: {ex}\n")
            return False
        console().concise(f"Road stack '{stack.name}': remote '{remote.name}' {verdict}\n")
        return True
