"""What the road and lane servers share: the attribute names ioflo's servers give them."""
from __future__ import annotations

import socket


class IofloNames:
    """``bs`` (the largest datagram read) and ``ss`` (the socket, None while closed), as
    ioflo's servers name them, for code written for raet."""

    bufsize: int
    sock: socket.socket | None

    @property
    def bs(self) -> int:
        return self.bufsize

    @property
    def ss(self) -> socket.socket | None:
        return self.sock
