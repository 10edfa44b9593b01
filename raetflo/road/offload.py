"""Crypto shared with a worker thread (libnacl computes without the GIL, so two cores work
at once), with ``RoadCore.CryptoWorkers`` set, for batches of at least ``CryptoBatchMin``
packets, while ``stack.share_crypto`` (the polled driver says no while its loop has time
to spare: see :mod:`.cryptoshare`). The bytes on the wire and the order of handling are
those of doing it all inline. The work is shared a batch at a time (see ``nacling.Shared``): a worker fed one
packet at a time while the loop runs Python costs more in GIL hand-offs than it saves.

Checked ahead: the polled driver hands the core every datagram one pass read; the batch is
parsed and its signatures checked, by the loop and the worker together, before the
datagrams are handled one by one, in arrival order, as before. A verdict is used only
when the key it was reached with is still its remote's when the datagram's turn comes (an
earlier datagram of the batch may have changed the keys); otherwise the signature is
checked again then.

Signed behind: while such a batch is handled, or queued messages are started, the
packets the stack signs go to ``txes`` as ``Unsigned``; when the pass ends, the loop and
the worker sign them together and they are whole again, in their places.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from .. import nacling
from ..nacling import Verifier
from ..raeting import FootKind, TrnsKind
from . import moving, packeting
from .packeting import Packet, PacketError, Unsigned

if TYPE_CHECKING:
    from .core import RoadCore

_pools: dict[int, ThreadPoolExecutor] = {}  # worker count -> the process's pool of that size
os.register_at_fork(after_in_child=_pools.clear)  # a forked child has none of the threads


@dataclass(slots=True)
class Ahead:
    """What checking ahead found for one datagram."""

    packet: Packet | None  # the parsed packet, None when it did not parse
    error: PacketError | None = None  # why it did not parse
    verifier: Verifier | None = None  # the key its signature is checked with (None: not)
    verdict: bool = False  # whether it verified with that key


def worker_pool(workers: int) -> ThreadPoolExecutor:
    """The process's pool of ``workers`` crypto threads, made when first asked for."""
    pool = _pools.get(workers)
    if pool is None:
        pool = _pools[workers] = ThreadPoolExecutor(workers, "raetflo-crypto")
    return pool


def crypto_pool(stack: RoadCore, count: int) -> ThreadPoolExecutor | None:
    """The pool to share ``count`` signings or verifyings with (None: do them inline)."""
    if not stack.CryptoWorkers or not stack.share_crypto or count < stack.CryptoBatchMin:
        return None
    return worker_pool(stack.CryptoWorkers)


def check_ahead(stack: RoadCore, batch: list[tuple[bytes, Any]]) -> list[Ahead | None]:
    """Parse the datagrams of ``batch`` (datagram, source pairs) and check their
    signatures, sharing that with a worker; a None for each when the batch is too small
    to share."""
    if crypto_pool(stack, len(batch)) is None:
        return [None] * len(batch)
    aheads: list[Ahead | None] = []
    signed: list[Ahead] = []
    jobs: list[Callable[[], bool]] = []
    for data, sa in batch:
        try:
            packet = packeting.parse(data, veritive=stack.veritive)
        except PacketError as ex:
            aheads.append(Ahead(None, ex))
            continue
        try:
            verifier = signer_key(stack, packet, sa)
        except PacketError:  # (dropped when its turn comes)
            verifier = None
        aheads.append(Ahead(packet, verifier=verifier))
        if verifier is not None:
            signed.append(aheads[-1])  # type: ignore[arg-type]
            jobs.append(partial(verifier.verify, packet.foot, packeting.signed_part(packet)))
    for ahead, verdict in zip(signed, nacling.Shared(jobs, crypto_pool(stack, len(jobs)))
                              .results()):
        ahead.verdict = verdict
    return aheads


@contextmanager
def signing(stack: RoadCore, count: int) -> Iterator[None]:
    """A pass of about ``count`` packets whose signatures a worker makes: what the stack
    packs meanwhile (``RoadCore.pack``) goes to ``txes`` as ``Unsigned``, and is bytes
    again, in its place, when the pass ends. Inline when the pass is small, or when one is
    under way already."""
    pool = crypto_pool(stack, count)
    if pool is None or stack.signing is not None:
        yield
        return
    txes, start = stack.txes, len(stack.txes)
    stack.signing = nacling.Shared(pool=pool)
    try:
        yield
    finally:
        stack.signing = None
        queued = [txes.pop() for _ in range(len(txes) - start)]
        txes.extend((data.packed if type(data) is Unsigned else data, ha)
                    for data, ha in reversed(queued))


def signer_key(stack: RoadCore, packet: Packet, sa: Any = None) -> Verifier | None:
    """The key a signed packet from ``sa`` must verify with now (None: unsigned, or no
    key known): its remote's, or from where the remote was before an unproven move the
    key it had there (see :mod:`.moving`). A session packet from an address its remote is
    not at would be dropped for that after the check: PacketError ``wrong_source`` comes
    first, so forged packets from anywhere cost no signature check."""
    head = packet.head
    if head.fk != FootKind.nacl:
        return None
    remote = stack.remotes.get(head.de)
    if remote is None:
        return None
    ha = remote.ha
    if sa is None or sa == ha or head.tk == TrnsKind.join or tuple(sa) == tuple(ha):
        return remote.verfer
    key = moving.former_key(remote, sa) if remote.former is not None else None
    if key is None:
        raise PacketError("wrong_source", f"Packet for remote '{remote.name}' at {ha} came "
                                          f"from {sa}")
    return key


def parsed(data: bytes, ahead: Ahead | None, veritive: bool) -> Packet:
    """The packet of ``data``: as found ahead, else parsed now (PacketError: dropped)."""
    if ahead is None:
        return packeting.parse(data, veritive=veritive)
    if ahead.packet is None:
        raise ahead.error  # type: ignore[misc]
    return ahead.packet


def verify(packet: Packet, verifier: Verifier, ahead: Ahead | None) -> None:
    """Check ``packet``'s signature against ``verifier`` (PacketError when it fails),
    taking the verdict found ahead when it was reached with that same key."""
    if ahead is None or ahead.verifier is not verifier:
        packeting.verify(packet, verifier)
    elif not ahead.verdict:
        raise PacketError("bad_signature")
