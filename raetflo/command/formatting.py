"""Output of the ``raetflo`` command: key fingerprints, tables and JSON."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from ..raeting import Acceptance

FINGERPRINT_HEX = 16  # hex digits of SHA-256 shown as a key's fingerprint


def fingerprint(keyhex: str | None) -> str:
    """A key's fingerprint: the first 16 hex digits of the SHA-256 of its 32 raw bytes,
    in groups of four (``ab12:...``); ``-`` when there is no key."""
    if not keyhex:
        return "-"
    digest = hashlib.sha256(bytes.fromhex(keyhex)).hexdigest()[:FINGERPRINT_HEX]
    return ":".join(digest[i:i + 4] for i in range(0, FINGERPRINT_HEX, 4))


def status_name(acceptance: int | None) -> str:
    """``accepted``, ``pending``, ``rejected``, or ``-`` when the role has no record."""
    return "-" if acceptance is None else Acceptance(acceptance).name


def address(ha: Sequence[Any] | None) -> str:
    """``host:port`` (``[host]:port`` for an IPv6 host), ``-`` when there is none."""
    if not ha:
        return "-"
    host, port = ha
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def cell(value: Any) -> str:
    """One table cell: ``-`` for None, addresses as ``host:port``."""
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return address(value)
    return str(value)


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], out: TextIO) -> None:
    """``rows`` under a header of ``columns``, each column as wide as its widest cell."""
    cells = [[cell(row[column]) for column in columns] for row in rows]
    widths = [max(len(text) for text in column)
              for column in zip(columns, *cells)]
    for line in [list(columns), *cells]:
        out.write("  ".join(text.ljust(width) for text, width in zip(line, widths)).rstrip()
                  + "\n")


def print_fields(record: Mapping[str, Any], out: TextIO) -> None:
    """One record as ``field: value`` lines, the fields aligned."""
    width = max(len(field) for field in record)
    for field, value in record.items():
        out.write(f"{field.ljust(width)}  {cell(value)}\n")


def print_json(data: Any, out: TextIO) -> None:
    out.write(json.dumps(data, indent=2) + "\n")
