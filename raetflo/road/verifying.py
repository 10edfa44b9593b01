"""Signatures of a batch of received datagrams, checked before the batch is handled.

The polled driver hands the core every datagram one pass read. With
``RoadCore.CryptoWorkers`` set, a batch of at least ``CryptoBatchMin`` datagrams is first
parsed and its signatures checked, a worker thread taking some of them (libnacl computes
without the GIL, so two cores verify at once); then the datagrams are handled one by one,
in arrival order, exactly as before. A verdict is used only when the key it was reached
with is still its remote's when the datagram's turn comes (an earlier datagram of the
batch may have changed the keys); otherwise the signature is checked again then.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import nacling
from ..nacling import Verifier
from ..raeting import FootKind
from . import packeting
from .packeting import Packet, PacketError

if TYPE_CHECKING:
    from .core import RoadCore

_pools: dict[int, ThreadPoolExecutor] = {}  # worker count -> the process's pool of that size
os.register_at_fork(after_in_child=_pools.clear)  # a forked child has none of the threads


@dataclass(slots=True)
class Ahead:
    """What checking ahead found for one datagram."""

    packet: Packet | None  # the parsed packet, None when it did not parse
    error: PacketError | None = None  # why it did not parse
    verifier: Verifier | None = None  # the key its signature was checked with (None: not)
    verdict: bool = False  # whether the signature verified with that key


def worker_pool(workers: int) -> ThreadPoolExecutor:
    """The process's pool of ``workers`` verifying threads, made when first asked for."""
    pool = _pools.get(workers)
    if pool is None:
        pool = _pools[workers] = ThreadPoolExecutor(workers, "raetflo-verify")
    return pool


def crypto_pool(stack: RoadCore, count: int) -> ThreadPoolExecutor | None:
    """The pool to share ``count`` signings or verifyings with (None: do them inline)."""
    if not stack.CryptoWorkers or count < stack.CryptoBatchMin:
        return None
    return worker_pool(stack.CryptoWorkers)


def check_ahead(stack: RoadCore, batch: list[tuple[bytes, Any]]) -> list[Ahead | None]:
    """Parse the datagrams of ``batch`` (datagram, source pairs) and check their
    signatures; a None for each when the batch is too small to share with a worker."""
    if not stack.CryptoWorkers or len(batch) < stack.CryptoBatchMin:
        return [None] * len(batch)
    aheads: list[Ahead | None] = []
    jobs: list[tuple[Verifier, bytes, bytes]] = []
    signed: list[Ahead] = []
    for data, _ in batch:
        try:
            ahead = Ahead(packeting.parse(data, veritive=stack.veritive))
        except PacketError as ex:
            aheads.append(Ahead(None, ex))
            continue
        aheads.append(ahead)
        verifier = signer_key(stack, ahead.packet)
        if verifier is not None:
            ahead.verifier = verifier
            jobs.append((verifier, ahead.packet.foot, packeting.signed_part(ahead.packet)))
            signed.append(ahead)
    for ahead, verdict in zip(signed, nacling.verify_many(jobs, crypto_pool(stack, len(jobs)))):
        ahead.verdict = verdict
    return aheads


def signer_key(stack: RoadCore, packet: Packet) -> Verifier | None:
    """The key a signed packet must verify with now (None: unsigned, or no key known)."""
    if packet.head.fk != FootKind.nacl:
        return None
    remote = stack.remotes.get(packet.head.de)
    return None if remote is None else remote.verfer


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
