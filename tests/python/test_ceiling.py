"""The ceiling search against a deliberately slow grpcio gNMIReverse collector.

The collector takes one message at a time across all its streams and holds each for
DELAY_MS, so its capacity is about 1000 / DELAY_MS messages per second. nl6 devices each
offer a known rate; a ramp by devices crosses that capacity, and the ceiling the run
reports must be within 20 % of what the collector really took when saturated.
"""

import json
import signal
import sys
import time
from pathlib import Path

import pytest

from conftest import Daemon, call, free_port, wait_for

COLLECTOR = Path(__file__).with_name("gnmireverse_collector.py")

DELAY_MS = 50.0  # capacity: about 20 messages/s
SAMPLE_INTERVAL_S = 1  # every device offers 1 message/s (nl6d samples at most once a second)
DEVICES = 26
# 10 .. 26 messages/s offered, 5 % apart around the capacity. Each stream holds about one
# message in the collector beyond what it has taken, so an overload shows once the
# excess of the steps above the capacity outgrows that slack: within two or three steps.
STEPS = [10, 17, 19, 20, 21, 22, 23, 24, 26]
HOLD_S = 5
# 10 interfaces × 17 leaves: messages of about 14 KB. The collector reads ahead at most
# 1 KiB per stream (grpc.http2.lookahead_bytes), so a slow read stalls the sender soon.
INTERFACES = 10
FIRST = "127.72.1.1"


@pytest.fixture
def slow_collector(tmp_path):
    port = free_port()
    proc = Daemon(
        [
            "--port", str(port), "--stubs", str(tmp_path / "stubs"),
            "--delay-ms", str(DELAY_MS), "--no-bdp-probe", "--lookahead-bytes", "1024",
        ],
        binary_name="slow grpcio collector",
        ready="listening on",
        command=[sys.executable, str(COLLECTOR)],
    )
    yield proc, port
    proc.proc.send_signal(signal.SIGKILL)
    proc.stop()


def taken(collector):
    """Unix times (s) at which the collector took each message so far."""
    return [
        json.loads(line)["at"]
        for line in collector.lines_matching(lambda l: l.startswith("{"))
    ]


def test_the_ceiling_is_the_collector_capacity(nl6d, slow_collector):
    collector, port = slow_collector
    rest = free_port()
    api = f"http://127.0.0.1:{rest}"
    nl6d(
        "--auto-count", "0",
        "--gnmi-port", str(free_port()), "--gnmi-tls=false",
        "--listen", f"127.0.0.1:{rest}",
    )
    status, reply = call(api, "POST", "/api/v1/devices", {
        "start_ip": FIRST, "device_count": DEVICES, "netmask": 24, "interfaces": INTERFACES,
        "gnmi_dialout": {
            "collector": f"127.0.0.1:{port}",
            "sample_interval": f"{int(SAMPLE_INTERVAL_S * 1000)}ms",
            "tls": {"enabled": False},
        },
    })
    assert status == 201, reply

    def streams_up():
        status, body = call(api, "GET", "/api/v1/gnmi/dialout/status")
        assert status == 200, body
        collectors = body["data"]["collectors"] if "data" in body else body["collectors"]
        return sum(c["streams_active"] for c in collectors) == DEVICES

    wait_for("every device streams", streams_up, 30)
    # Arm at once: until then every device streams at full rate (above the capacity);
    # the pre-roll's silence lets the collector catch up with that backlog.
    status, reply = call(api, "POST", "/api/v1/runs", {
        "devices": {"batch": FIRST}, "seed": 11, "slices": 2, "pre_roll": "4s", "drain": "3s",
        "ramp": {"by": "devices", "steps": STEPS, "hold": f"{HOLD_S}s"},
    })
    assert status == 201, reply
    run = reply["data"]
    assert run["participants"] == DEVICES

    def finished():
        status, body = call(api, "GET", f"/api/v1/runs/{run['id']}")
        assert status == 200, body
        return body["data"] if body["data"]["state"] == "finished" else None

    report = wait_for("the run finishes", finished, 4 + len(STEPS) * HOLD_S + 20)
    ramp = report["ramp"]
    summary = "\n".join(
        f"step {s['step']}: {s['devices']} devices, offered {s['offered']['messages']}, "
        f"sent {s['sent']['messages']}, dropped {s['dropped']['messages']}, "
        f"stall {s['stall_ppm'] / 1e4:.1f} %, latency {s['latency_first_ns'] / 1e6:.0f} -> "
        f"{s['latency_last_ns'] / 1e6:.0f} ms (p99 {s['latency_p99_ns'] / 1e6:.0f} ms): {s['reason']}"
        for s in ramp["steps"]
    ) + "\n" + ramp["evidence"]
    ceiling = ramp["ceiling"]
    assert ceiling is not None, summary
    assert ceiling["found"], "a step above the capacity must fail:\n" + summary
    failed = next(s for s in ramp["steps"] if s["ran"] and not s["sustained"])
    assert all(s["sustained"] for s in ramp["steps"][: failed["step"] - 1]), summary
    assert all(not s["ran"] for s in ramp["steps"][failed["step"]:]), summary

    # What the collector really took while saturated: during the step that failed.
    start, end = failed["start_ns"] / 1e9, failed["end_ns"] / 1e9
    measured = sum(1 for at in taken(collector) if start <= at < end) / (end - start)
    nominal = 1000.0 / DELAY_MS
    summary += f"\ncollector took {measured:.1f} messages/s saturated (nominal {nominal:.1f})"
    assert abs(measured - nominal) <= 0.2 * nominal, "the slow collector itself:\n" + summary
    assert abs(ceiling["messages_per_s"] - measured) <= 0.2 * measured, summary
    assert failed["stall_waits"] > 0, "the overload made senders wait for windows:\n" + summary
    below = ramp["steps"][0]
    assert failed["latency_p99_ns"] > below["latency_p99_ns"], "overload delays sends:\n" + summary
    print(summary)

    # The dial-out status counts the same waits per collector.
    status, body = call(api, "GET", "/api/v1/gnmi/dialout/status")
    assert status == 200, body
    row = body["data"]["collectors"][0] if "data" in body else body["collectors"][0]
    assert row["flow_stall_waits"] >= failed["stall_waits"], row
    assert row["flow_stall_ms"] > 0, row
