"""Lane test fixtures: a captured console."""
from __future__ import annotations

import io
from typing import Callable

import pytest
from ioflo.base.consoling import getConsole


@pytest.fixture
def console_text(monkeypatch) -> Callable[[], str]:
    """What the console has printed since the test started (at terse verbosity)."""
    buffer = io.StringIO()
    monkeypatch.setattr(getConsole(), "_file", buffer)
    return buffer.getvalue
