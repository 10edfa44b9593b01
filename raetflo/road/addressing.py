"""Addresses as people read and write them: ``host:port``, ``[v6]:port`` (no I/O)."""
from __future__ import annotations

from typing import Any


def show_ha(ha: Any) -> str:
    """``(host, port)`` as ``host:port``, an IPv6 host in brackets (``[::1]:7530``)."""
    host, port = ha[0], ha[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
