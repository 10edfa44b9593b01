"""Our messages on their way to one remote, from ``RoadCore.message`` until confirmed or given up.

A message goes as a :class:`~raetflo.road.messaging.Messenger` try when the link is allowed,
else it is saved in ``remote.messages`` (bounded by ``RoadCore.MaxSavedMessages``) and an
allow is started. A nacked try is parked in ``remote.parked`` while ``remote.prober`` asks
whether the peer still has our session: if it has the session the try was nacked in, the
message was refused and is given up; if not (no session, or a newer one) it is saved to go
again, with its tid, after the next allow. Re-sends wait until the
peer has acked a probe in our current session (``remote.confirmed_sid``), and one message
is re-sent at most ``RoadCore.MaxResends`` times. A message that is not tried again is
counted and logged, never silently lost.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from .. import raeting
from ..events import MessageDelivered, MessageDropped
from ..raeting import Acceptance
from ..coring import StackError
from . import messaging, packeting
from .delivery import Outgoing
from .packeting import PacketError

if TYPE_CHECKING:
    from .estating import RemoteEstate
    from .core import RoadCore


def check_body(stack: RoadCore, msg: object) -> None:
    """StackError (counted) unless ``msg`` is a mapping the stack's body kind can encode
    within the maximum message size."""
    if not isinstance(msg, Mapping):
        stack.incStat("invalid_transmit_body")
        raise StackError(f"Invalid msg, not a mapping: {type(msg).__name__}")
    try:
        encoded = packeting.encode_body(stack.Bk, msg)
    except PacketError as ex:
        stack.incStat("invalid_transmit_body")
        raise StackError(f"Invalid msg, cannot encode it: {ex}") from None
    if len(encoded) + raeting.TAIL_SIZES[stack.Ck] + 16 > raeting.MAX_MESSAGE_SIZE:
        stack.incStat("invalid_transmit_body")
        raise StackError(f"Message of {len(encoded)} bytes exceeds the maximum message "
                         f"size of {raeting.MAX_MESSAGE_SIZE} bytes")


def queue(stack: RoadCore, msg: Mapping, uid: int | None, timeout: float | None,
          ref: int) -> None:
    """Queue ``msg`` for remote ``uid`` (None: the first) in ``txMsgs`` (``ref``: the
    reference of its outcome events, 0 for none); StackError when it is not a body the
    stack can send. With no remote at all it is dropped, counted and logged, as in raet."""
    check_body(stack, msg)
    if uid is None:
        remote = stack.retrieveRemote()
        if remote is None:
            stack.incStat("invalid_destination")
            drop(stack, None, "no remote to send to", ref=ref)
            return
        uid = remote.uid
    if timeout is None:
        timeout = stack.MessageTimeout
    stack.txMsgs.append((msg, uid, timeout, ref) if ref else (msg, uid, timeout))


def post(stack: RoadCore, body: Mapping, uid: int | None, timeout: float | None,
         ref: int = 0) -> None:
    """Send ``body`` to remote ``uid`` (see :func:`send`); dropped when there is no such remote."""
    remote = stack.retrieveRemote(uid)
    if remote is None:
        stack.console.terse(f"Invalid remote destination estate id '{uid}'\n")
        stack.incStat("invalid_remote_uid")
        drop(stack, None, f"no remote with uid {uid}", ref=ref)
        return
    send(stack, remote, Outgoing.new(body, timeout, stack.now, ref))


def send(stack: RoadCore, remote: RemoteEstate, entry: Outgoing) -> None:
    """Start a try of ``entry`` (a re-send keeps its tid), or save it for an allow."""
    if remote.acceptance == Acceptance.rejected:
        give_up(stack, remote, entry, "remote is rejected")
        return
    if not remote.allowed or remote.allowInProcess():  # new keys are on their way
        save(stack, remote, entry)
        if not remote.joinInProcess() and not remote.allowInProcess():
            stack.allow(uid=remote.uid, cascade=True)
        return
    remaining = entry.remaining(stack.now)
    if remaining is not None and remaining <= 0:
        give_up(stack, remote, entry, "timed out")
        return
    if entry.tid is not None:
        entry.resends += 1
        if entry.resends > stack.MaxResends:
            give_up(stack, remote, entry, f"not confirmed after {stack.MaxResends} re-sends")
            return
    try:
        encoded = packeting.encode_body(stack.Bk, entry.body)
    except PacketError as ex:
        give_up(stack, remote, entry, str(ex))
        return
    messaging.Messenger(stack, remote, entry, encoded).message()


def save(stack: RoadCore, remote: RemoteEstate, entry: Outgoing) -> None:
    """Keep ``entry`` until the link has a session (at most MaxSavedMessages)."""
    if len(remote.messages) >= stack.MaxSavedMessages:
        give_up(stack, remote, entry, "too many messages waiting")
        return
    remote.messages.append(entry)
    stack.wake(remote)
    stack.incStat("message_saved")


def send_saved(stack: RoadCore, remote: RemoteEstate) -> None:
    """Send the messages saved while ``remote`` had no session.

    Re-sends keep their tids, which the peer may only judge once it has seen a newer
    tid in our current session: they wait for a probe acked in it.
    """
    if not remote.messages:
        return
    if remote.messages.has_resends() and remote.confirmed_sid != remote.sid:
        probe(stack, remote)
        return
    while remote.messages and remote.allowed and not remote.allowInProcess():
        send(stack, remote, remote.messages.popleft())


def park(stack: RoadCore, remote: RemoteEstate, entry: Outgoing) -> None:
    """Hold a nacked message until a probe tells whether the peer has our session."""
    remote.parked.append(entry)
    probe(stack, remote)


def probe(stack: RoadCore, remote: RemoteEstate) -> None:
    """Start a Prober alive with the parked messages, unless one is under way."""
    if remote.prober is None:
        entries, remote.parked = remote.parked, []
        messaging.Prober(stack, remote, entries).alive()


def probe_settled(stack: RoadCore, prober: messaging.Prober) -> None:
    """A probe ended: give up its messages refused in the session it found intact, save
    the others (no session, or one since replaced)."""
    remote = prober.remote
    if prober.aborted:
        for entry in prober.entries + remote.parked:
            give_up(stack, remote, entry, "aborted")
        remote.parked = []
        return
    if prober.answered:
        remote.confirmed_sid = prober.sid
        for entry in prober.entries:
            if entry.nacked_sid == prober.sid:  # the session that refused it holds
                give_up(stack, remote, entry, "refused by the peer")
            else:  # nacked in a session since replaced: the peer may never have seen it
                save(stack, remote, entry)
    else:
        for entry in prober.entries:
            save(stack, remote, entry)
    if remote.parked:
        probe(stack, remote)
    elif prober.answered:
        send_saved(stack, remote)


def confirmed_late(stack: RoadCore, remote: RemoteEstate, tid: int, sid: int) -> bool:
    """A done of try ``tid`` in session ``sid``, which we took as refused: its nack came
    first (raet nacks a copy of a message it has delivered). The message, waiting to be
    judged or to go again, was delivered."""
    held = [remote.parked] + ([remote.prober.entries] if remote.prober is not None else [])
    for entries in held:
        for entry in entries:
            if entry.tid == tid and entry.nacked_sid == sid:
                entries.remove(entry)
                delivered(stack, remote, entry)
                return True
    saved = remote.messages.take_nacked(tid, sid)
    if saved is not None:
        delivered(stack, remote, saved)
    return saved is not None


def give_up(stack: RoadCore, remote: RemoteEstate, entry: Outgoing, why: str) -> None:
    """Account for a message no longer tried: dropped, or unconfirmed when a try may
    have been delivered."""
    if entry.unconfirmed:
        drop(stack, remote, f"{why}; it may have been delivered", stat="message_unconfirmed",
             ref=entry.ref)
    else:
        drop(stack, remote, why, ref=entry.ref)


def drop(stack: RoadCore, remote: RemoteEstate | None, why: str,
         stat: str = "message_dropped", ref: int = 0) -> None:
    """Account for a message that will not be tried again: never silently."""
    stack.incStat(stat)
    name = remote.name if remote is not None else "?"
    stack.console.terse(f"Stack '{stack.name}': dropped message to {name}: {why}\n")
    if ref:
        stack.emit(MessageDropped(ref, name, why, stat == "message_unconfirmed"))


def delivered(stack: RoadCore, remote: RemoteEstate, entry: Outgoing) -> None:
    """The peer confirmed ``entry``."""
    stack.incStat("message_initiate_complete")
    if entry.ref:
        stack.emit(MessageDelivered(entry.ref, remote.name))


def drop_saved(stack: RoadCore, remote: RemoteEstate, why: str) -> None:
    """Give up every message waiting for ``remote`` (held by a probe, parked or saved)."""
    probing, parked, remote.parked = [], remote.parked, []
    if remote.prober is not None:
        probing, remote.prober.entries = remote.prober.entries, []
    for entry in probing + parked:
        give_up(stack, remote, entry, why)
    while remote.messages:
        give_up(stack, remote, remote.messages.popleft(), why)


def abandon(stack: RoadCore, why: str) -> None:
    """Give up every message not confirmed yet (under way, saved, parked or queued), each
    counted and logged as given up, never lost silently (the stack is closing)."""
    for remote in list(stack.remotes.values()):
        for transaction in list(remote.transactions.values()):
            if isinstance(transaction, messaging.Messenger):
                transaction.remove()
                give_up(stack, remote, transaction.tried(), why)
        drop_saved(stack, remote, why)
    while stack.txMsgs:
        _drop_queued(stack, why, *stack.txMsgs.popleft())


def _drop_queued(stack: RoadCore, why: str, body: Mapping, uid: int | None = None,
                 timeout: float | None = None, ref: int = 0) -> None:
    """Drop one ``txMsgs`` entry (the arguments of ``RoadCore.message``)."""
    drop(stack, stack.retrieveRemote(uid), why, ref=ref)
