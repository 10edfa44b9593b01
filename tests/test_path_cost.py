"""``benchmarks/path_cost.py``: its split of an exchange's CPU into Python and crypto runs
the real paths to completion, puts libnacl back as it found it, and its flags are checked."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import libnacl
import pytest

from raetflo.road.core import RoadCore

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "path_cost.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("path_cost_under_test", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_stubs_stand_in_for_libnacl_and_are_put_back(bench):
    real = libnacl.crypto_sign_detached
    verkey, sigkey = libnacl.crypto_sign_seed_keypair(bytes(32))
    with bench.crypto_stubbed():
        assert libnacl.crypto_sign_detached(b"packet", sigkey) == bytes(64)
        assert libnacl.crypto_sign_verify_detached(bytes(64), b"packet", verkey) == b"packet"
        sealed = libnacl.crypto_box_easy_afternm(b"body", bytes(24), bytes(32))
        assert libnacl.crypto_box_open_easy_afternm(sealed, bytes(24), bytes(32)) == b"body"
    assert libnacl.crypto_sign_detached is real
    signature = libnacl.crypto_sign_detached(b"packet", sigkey)
    assert signature != bytes(64)
    with pytest.raises(ValueError):
        libnacl.crypto_sign_verify_detached(signature, b"other", verkey)


def test_the_split_runs_every_path_to_completion_and_restores_the_worker(bench):
    workers = RoadCore.CryptoWorkers
    result = bench.split(count=30)
    assert RoadCore.CryptoWorkers == workers
    assert libnacl.crypto_sign_detached.__module__ == "libnacl"
    roles = {(row["path"], row["role"]) for row in result["rows"]}
    assert roles == {("alive", "initiator"), ("alive", "correspondent"),
                     ("message", "sender"), ("message", "receiver")}
    for row in result["rows"]:
        assert row["total_us"] > 0 and row["python_us"] > 0 and row["libnacl_us"] > 0
        assert row["crypto_us"] == pytest.approx(row["total_us"] - row["python_us"])
    assert set(result["libnacl"]) == {"sign", "verify", "box_open"}


def test_a_lost_exchange_is_an_error_not_a_figure(bench, monkeypatch):
    monkeypatch.setattr(bench, "ROUNDS", 0)
    with pytest.raises(RuntimeError, match="did not complete"):
        bench.split(count=5)


def test_the_handoff_reports_both_threads(bench):
    result = bench.handoff(jobs=10, repeat=1)
    assert result["jobs"] == 10
    for key in ("worker_alone_us", "worker_together_us", "loop_alone_per_s",
                "loop_together_per_s", "shared_us"):
        assert result[key] > 0


@pytest.mark.parametrize("flag", ["--count", "--repeat", "--jobs"])
def test_a_count_below_one_is_refused(bench, flag, capsys):
    with pytest.raises(SystemExit):
        bench.parse_args([flag, "0"])
    assert f"{flag} must be at least 1" in capsys.readouterr().err


def test_quick_sets_small_defaults_an_explicit_flag_still_wins(bench):
    args = bench.parse_args(["--quick", "--count", "50"])
    assert (args.count, args.repeat, args.jobs) == (50, 1, 100)
