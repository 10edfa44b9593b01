"""The key-acceptance table (road-behaviour §9.1), exhaustively."""
from __future__ import annotations

import pytest

from raetflo.raeting import Acceptance, AutoMode
from raetflo.road.acceptance import Decision, RoleRecord, role_status

A, P, R = Acceptance.accepted, Acceptance.pending, Acceptance.rejected
OLD = ("v0", "p0")
NEW = ("v1", "p1")
NO_RECORD = "no record"

# (auto, persisted status, keys equal to the stored ones?) -> (status, writes?, reason)
TABLE = [
    (AutoMode.always, NO_RECORD, False, A, True, None),
    (AutoMode.always, None, True, A, True, None),
    (AutoMode.always, None, False, A, True, None),
    (AutoMode.always, A, True, A, False, None),
    (AutoMode.always, A, False, A, True, None),
    (AutoMode.always, P, True, A, True, None),
    (AutoMode.always, P, False, A, True, None),
    (AutoMode.always, R, True, A, True, None),
    (AutoMode.always, R, False, A, True, None),
    (AutoMode.once, NO_RECORD, False, A, True, None),
    (AutoMode.once, None, True, A, True, None),
    (AutoMode.once, None, False, A, True, None),
    (AutoMode.once, A, True, A, False, None),
    (AutoMode.once, A, False, R, False, "Once keys not match prior accepted"),
    (AutoMode.once, P, True, A, True, None),
    (AutoMode.once, P, False, R, False, "Once keys not match prior pended"),
    (AutoMode.once, R, True, R, False, "Once keys already rejected"),
    (AutoMode.once, R, False, R, False, "Once keys already rejected"),
    (AutoMode.never, NO_RECORD, False, P, True, None),
    (AutoMode.never, None, True, P, True, None),
    (AutoMode.never, None, False, P, True, None),
    (AutoMode.never, A, True, A, False, None),
    (AutoMode.never, A, False, R, False, "Never keys not match prior accepted"),
    (AutoMode.never, P, True, P, False, None),
    (AutoMode.never, P, False, R, False, "Never keys not match prior pended"),
    (AutoMode.never, R, True, R, False, "Never keys already rejected"),
    (AutoMode.never, R, False, R, False, "Never keys already rejected"),
]


@pytest.mark.parametrize("auto, prior, same, status, writes, reason", TABLE)
def test_table(auto: AutoMode, prior: object, same: bool, status: Acceptance, writes: bool,
               reason: str | None) -> None:
    stored = None if prior == NO_RECORD else RoleRecord("beta", prior, *OLD)
    keys = OLD if same else NEW
    decision = role_status(auto, stored, *keys, role="beta")
    assert decision.status is status
    assert decision.reason == reason
    if writes:
        assert decision.write == RoleRecord("beta", status, *keys)
    else:
        assert decision.write is None


def test_table_is_exhaustive() -> None:
    cases = {(auto, prior, same) for auto, prior, same, *_ in TABLE}
    priors = [NO_RECORD, None, A, P, R]
    expected = {(auto, prior, same) for auto in AutoMode for prior in priors
                for same in (True, False) if prior != NO_RECORD or not same}
    assert cases == expected


def test_plain_int_values_are_accepted() -> None:
    decision = role_status(1, RoleRecord("beta", 0, *OLD), *OLD)  # type: ignore[arg-type]
    assert decision == Decision(A, RoleRecord("beta", A, *OLD))


def test_role_defaults_to_stored_record() -> None:
    decision = role_status(AutoMode.always, RoleRecord("gamma", P, *OLD), *NEW)
    assert decision.write == RoleRecord("gamma", A, *NEW)
    assert role_status(AutoMode.always, RoleRecord("gamma", P, *OLD), *NEW,
                       role="delta").write.role == "delta"  # type: ignore[union-attr]
