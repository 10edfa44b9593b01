"""Names that may become part of a keep file name: the rule, with no file access."""
from __future__ import annotations

from typing import Any

MAX_NAME_BYTES = 222  # longest name (UTF-8 bytes) that fits a keep file name with its prefix


def check_name(name: Any, what: str = "name", limit: int = MAX_NAME_BYTES) -> str:
    """Return ``name`` if it is safe as part of one file name, else raise  ValueError.

    Refused: non-strings, empty names, a leading '.', '/', spaces, NUL and every other
    non-printable character, and names longer than ``limit`` bytes of UTF-8.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"Invalid {what} {name!r}: must be a non-empty string")
    if name.startswith(".") or "/" in name or " " in name or not name.isprintable():
        raise ValueError(f"Invalid {what} {name!r}: may not start with '.' nor contain '/', "
                        "a space, NUL or another control character")
    size = len(name.encode("utf-8"))
    if size > limit:
        raise ValueError(f"Invalid {what} {name[:32]!r}...: {size} bytes of UTF-8, "
                        f"at most {limit}")
    return name
