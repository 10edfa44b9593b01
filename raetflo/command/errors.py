"""What the subcommands of ``raetflo`` share: their error and address parsing."""
from __future__ import annotations


class CommandError(Exception):
    """A one-line reason the command cannot do what it was asked (exit status 1)."""


def parse_ha(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[HOST]:PORT`` for an IPv6 host) as ``(host, port)``."""
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]") if host.startswith("[") else host
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise CommandError(f"bad address '{text}': expected HOST:PORT")
    return host, int(port)
