"""The tutorial examples run and print the tutorial's transaction lines."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from .conftest import free_port

ROOT = Path(__file__).resolve().parents[1]

JOIN_LINES = [
    "Joiner alpha. Do Join with estate_<hex> in 1 at 0.0",
    "Joinent beta. Added new remote name='alpha' nuid='2' fuid='2' ha='('127.0.0.1', <p0>)' role='alpha'",
    "Joinent beta. Do Accept of alpha in 1 at 0.0",
    "Joiner alpha. Do Ack Accept, Done with beta in 1 at 0.1",
    "Allower alpha. Do Hello with beta in 2 at 0.1",
    "Joinent beta. Done with alpha in 1 at 0.1",
    "Allowent beta. Do Cookie with alpha in 2 at 0.1",
    "Allower alpha. Do Initiate with beta in 2 at 0.2",
    "Allowent beta. Do Ack Initiate with alpha in 2 at 0.2",
    "Allower alpha. Do Ack Final, Done with beta in 2 at 0.30000000000000004",
    "Aliver alpha. Do Alive with beta in 3 at 0.30000000000000004",
    "Allowent beta. Done with alpha in 2 at 0.30000000000000004",
    "Alivent beta. Do ack alive with alpha in 3 at 0.30000000000000004",
    "Alivent beta. Done with alpha in 3 at 0.30000000000000004",
    "Aliver alpha. Done with beta in 3 at 0.4",
    "Finished",
]

MESSAGE_LINES = JOIN_LINES[:-1] + [
    "Finished Handshake",
    "Messenger alpha. Do Message Segment 0 with beta in 4 at 0.5",
    "Messengent beta. Do Ack Done Message on Segment 0 with alpha in 4 at 0.5",
    "Messengent beta. Complete with alpha in 4 at 0.5",
    "Messenger alpha. Done with beta in 4 at 0.6",
    "({'subject': 'Example message alpha to beta', 'content': 'The dict keys in this dict "
    "are not special any dict will do.'}, 'alpha')",
    "Finished Message alpha to beta",
    "Messenger beta. Do Message Segment 0 with alpha in 1 at 0.7",
    "Messengent alpha. Do Ack Done Message on Segment 0 with beta in 1 at 0.7999999999999999",
    "Messengent alpha. Complete with beta in 1 at 0.7999999999999999",
    "Messenger beta. Done with alpha in 1 at 0.7999999999999999",
    "({'subject': 'Example message beta to alpha', 'content': 'Messages are the core of "
    "raet.'}, 'beta')",
    "Finished Message beta to alpha",
    "Finished",
]

T3 = "0.30000000000000004"
THREE_LINES = [
    "Joiner alpha. Do Join with beta in 1 at 0.0",
    "Joiner alpha. Do Join with gamma in 1 at 0.0",
    "Joiner beta. Do Join with gamma in 1 at 0.0",
    "Joinent beta. Added new remote name='alpha' nuid='3' fuid='2' ha='('127.0.0.1', <p0>)' role='alpha'",
    "Joinent beta. Do Accept of alpha in 1 at 0.0",
    "Joinent gamma. Added new remote name='alpha' nuid='2' fuid='3' ha='('127.0.0.1', <p0>)' role='alpha'",
    "Joinent gamma. Do Accept of alpha in 1 at 0.0",
    "Joinent gamma. Added new remote name='beta' nuid='3' fuid='2' ha='('127.0.0.1', <p1>)' role='beta'",
    "Joinent gamma. Do Accept of beta in 1 at 0.0",
    "Joiner alpha. Do Ack Accept, Done with beta in 1 at 0.1",
    "Allower alpha. Do Hello with beta in 2 at 0.1",
    "Joiner alpha. Do Ack Accept, Done with gamma in 1 at 0.1",
    "Allower alpha. Do Hello with gamma in 2 at 0.1",
    "Joiner beta. Do Ack Accept, Done with gamma in 1 at 0.1",
    "Allower beta. Do Hello with gamma in 2 at 0.1",
    "Joinent beta. Done with alpha in 1 at 0.1",
    "Allowent beta. Do Cookie with alpha in 2 at 0.1",
    "Joinent gamma. Done with alpha in 1 at 0.1",
    "Allowent gamma. Do Cookie with alpha in 2 at 0.1",
    "Joinent gamma. Done with beta in 1 at 0.1",
    "Allowent gamma. Do Cookie with beta in 2 at 0.1",
    "Allower alpha. Do Initiate with beta in 2 at 0.2",
    "Allower alpha. Do Initiate with gamma in 2 at 0.2",
    "Allower beta. Do Initiate with gamma in 2 at 0.2",
    "Allowent beta. Do Ack Initiate with alpha in 2 at 0.2",
    "Allowent gamma. Do Ack Initiate with alpha in 2 at 0.2",
    "Allowent gamma. Do Ack Initiate with beta in 2 at 0.2",
    f"Allower alpha. Do Ack Final, Done with beta in 2 at {T3}",
    f"Aliver alpha. Do Alive with beta in 3 at {T3}",
    f"Allower alpha. Do Ack Final, Done with gamma in 2 at {T3}",
    f"Aliver alpha. Do Alive with gamma in 3 at {T3}",
    f"Allower beta. Do Ack Final, Done with gamma in 2 at {T3}",
    f"Aliver beta. Do Alive with gamma in 3 at {T3}",
    f"Allowent beta. Done with alpha in 2 at {T3}",
    f"Alivent beta. Do ack alive with alpha in 3 at {T3}",
    f"Alivent beta. Done with alpha in 3 at {T3}",
    f"Allowent gamma. Done with alpha in 2 at {T3}",
    f"Alivent gamma. Do ack alive with alpha in 3 at {T3}",
    f"Alivent gamma. Done with alpha in 3 at {T3}",
    f"Allowent gamma. Done with beta in 2 at {T3}",
    f"Alivent gamma. Do ack alive with beta in 3 at {T3}",
    f"Alivent gamma. Done with beta in 3 at {T3}",
    "Aliver alpha. Done with beta in 3 at 0.4",
    "Aliver alpha. Done with gamma in 3 at 0.4",
    "Aliver beta. Done with gamma in 3 at 0.4",
    "Perceived service duration = <elapsed> seconds",
    "Finished Handshakes",
    "Messenger alpha. Do Message Segment 0 with beta in 4 at 0.5",
    "Messenger alpha. Do Message Segment 0 with gamma in 4 at 0.5",
    "Messengent beta. Do Ack Done Message on Segment 0 with alpha in 4 at 0.5",
    "Messengent beta. Complete with alpha in 4 at 0.5",
    "Messenger beta. Do Message Segment 0 with gamma in 4 at 0.5",
    "Messenger beta. Do Message Segment 0 with alpha in 1 at 0.5",
    "Messengent gamma. Do Ack Done Message on Segment 0 with alpha in 4 at 0.5",
    "Messengent gamma. Complete with alpha in 4 at 0.5",
    "Messengent gamma. Do Ack Done Message on Segment 0 with beta in 4 at 0.5",
    "Messengent gamma. Complete with beta in 4 at 0.5",
    "Messenger gamma. Do Message Segment 0 with alpha in 1 at 0.5",
    "Messenger gamma. Do Message Segment 0 with beta in 1 at 0.5",
    "Messenger alpha. Done with beta in 4 at 0.6",
    "Messengent alpha. Do Ack Done Message on Segment 0 with beta in 1 at 0.6",
    "Messengent alpha. Complete with beta in 1 at 0.6",
    "Messenger alpha. Done with gamma in 4 at 0.6",
    "Messengent alpha. Do Ack Done Message on Segment 0 with gamma in 1 at 0.6",
    "Messengent alpha. Complete with gamma in 1 at 0.6",
    "Messenger beta. Done with gamma in 4 at 0.6",
    "Messengent beta. Do Ack Done Message on Segment 0 with gamma in 1 at 0.6",
    "Messengent beta. Complete with gamma in 1 at 0.6",
    "Messenger beta. Done with alpha in 1 at 0.6",
    "Messenger gamma. Done with alpha in 1 at 0.6",
    "Messenger gamma. Done with beta in 1 at 0.6",
    "Perceived service duration = <elapsed> seconds",
    "Finished Messages",
    "Stack alpha received:",
    "source = 'beta'.",
    "msg= {'subject': 'Example message beta to whoever', 'content': 'Hello.'}",
    "source = 'gamma'.",
    "msg= {'subject': 'Example message gamma to whoever', 'content': 'Good Day'}",
    "Stack beta received:",
    "source = 'alpha'.",
    "msg= {'subject': 'Example message alpha to whoever', 'content': 'Hi'}",
    "source = 'gamma'.",
    "msg= {'subject': 'Example message gamma to whoever', 'content': 'Good Day'}",
    "Stack gamma received:",
    "source = 'alpha'.",
    "msg= {'subject': 'Example message alpha to whoever', 'content': 'Hi'}",
    "source = 'beta'.",
    "msg= {'subject': 'Example message beta to whoever', 'content': 'Hello.'}",
    "Finished",
]


def run_example(name: str, tmp_path, nports: int) -> tuple[list[str], list[int]]:
    ports = [free_port() for _ in range(nports)]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), "--host", "127.0.0.1",
         "--ports", *map(str, ports), "--basedirpath", str(tmp_path / "keep")],
        capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    lines = [re.sub(r"estate_[0-9a-f]{32}", "estate_<hex>", line) for line in lines]
    lines = [re.sub(r"duration = \d+\.\d+(e-\d+)? seconds", "duration = <elapsed> seconds",
                    line) for line in lines]
    return lines, ports


def with_ports(lines: list[str], ports: list[int]) -> list[str]:
    """The expected lines with ``<pN>`` replaced by the N-th port of the run."""
    for index, port in enumerate(ports):
        lines = [line.replace(f"<p{index}>", str(port)) for line in lines]
    return lines


def test_road_join_example(tmp_path):
    lines, ports = run_example("road_join.py", tmp_path, 2)
    assert lines == with_ports(JOIN_LINES, ports)
    assert not any((tmp_path / "keep").iterdir())  # the example clears its keeps


def test_road_message_example(tmp_path):
    lines, ports = run_example("road_message.py", tmp_path, 2)
    assert lines == with_ports(MESSAGE_LINES, ports)
    assert not any((tmp_path / "keep").iterdir())


def test_road_three_example(tmp_path):
    lines, ports = run_example("road_three.py", tmp_path, 3)
    assert lines == with_ports(THREE_LINES, ports)
    assert not any((tmp_path / "keep").iterdir())
