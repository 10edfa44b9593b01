"""The scale benchmark's smoke run: ``benchmarks/scale_bench.py --quick --check`` counts
the main's calls per operation and per remote at two sizes and fails when they grow with
the number of remotes (an O(N^2) regression), whatever the machine's speed."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "scale_bench.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("scale_bench_under_test", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rows(per_remote_at_large: float) -> list[dict]:
    flat = {"manage_calls": 16, "tick_calls": 44, "fanout_calls_per_remote": 148,
            "fanin_calls_per_remote": 350}
    return [{"n": 50, "impl": "raetflo", **flat, "storm_calls_per_remote": 2750},
            {"n": 200, "impl": "raetflo", **flat,
             "storm_calls_per_remote": per_remote_at_large},
            {"n": 200, "impl": "raet", "manage_calls": 9000}]  # the reference is not judged


def test_the_check_fails_a_cost_per_remote_that_grows_with_n():
    bench = load_bench()
    assert bench.growth_failures(rows(2750 + 18)) == []
    failures = bench.growth_failures(rows(2750 + 150))  # one call per remote more a join
    assert len(failures) == 1 and failures[0].startswith("storm_calls_per_remote: 2,750")
    assert "grows with N" in failures[0]


def test_the_check_needs_two_sizes_and_every_cost():
    bench = load_bench()
    assert "two sizes" in bench.growth_failures(rows(2750)[:1])[0]
    partial = rows(2750)
    del partial[1]["tick_calls"]
    assert bench.growth_failures(partial) == ["tick_calls: not measured at N=50 and N=200"]


def test_the_quick_smoke_run_passes(tmp_path):
    run = subprocess.run([sys.executable, str(BENCH), "--quick", "--impls", "raetflo",
                          "--check", "--timeout", "60"], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "check passed: none of raetflo's counted costs grows with N" in run.stdout
    assert "calls counted in the main (--check)" in run.stdout


def test_inline_crypto_reaches_the_main_worker(monkeypatch):
    bench = load_bench()
    commands = []
    monkeypatch.setattr(bench.rb, "run_command", lambda cmd, *rest: commands.append(cmd) or {})
    args = bench.parse_args(["--impls", "raetflo", "--sizes", "50", "--inline-crypto"])
    bench.run_one("raetflo", 50, args)
    assert "--inline-crypto" in commands[0]
    bench.run_one("raetflo", 50, bench.parse_args(["--impls", "raetflo"]))
    assert "--inline-crypto" not in commands[1]


def test_shared_crypto_reaches_the_main_worker_and_excludes_inline(monkeypatch, capsys):
    bench = load_bench()
    commands = []
    monkeypatch.setattr(bench.rb, "run_command", lambda cmd, *rest: commands.append(cmd) or {})
    bench.run_one("raetflo", 50, bench.parse_args(["--shared-crypto"]))
    assert "--shared-crypto" in commands[0] and "--inline-crypto" not in commands[0]
    with pytest.raises(SystemExit) as refused:
        bench.parse_args(["--shared-crypto", "--inline-crypto"])
    assert refused.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
