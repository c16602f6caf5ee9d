"""nl6d dialing out to nl6-collector, as two real processes over loopback."""

import json

from conftest import free_port


def notifications(lines):
    out = []
    for line in lines:
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def test_every_device_streams_to_the_collector(nl6d, nl6_collector):
    port = free_port()
    collector = nl6_collector("--plaintext", "--json", "--listen", f"127.0.0.1:{port}")
    expected = {f"127.72.1.{i}" for i in range(1, 6)}
    nl6d(
        "--auto-start-ip", "127.72.1.1", "--auto-count", "5", "--auto-netmask", "24",
        "--gnmi-port", str(free_port()), "--gnmi-tls=false", "--listen", f"127.0.0.1:{free_port()}",
        "--gnmi-mode", "dial-out", "--gnmi-dialout-collector", f"127.0.0.1:{port}",
        "--gnmi-dialout-tls=false", "--gnmi-dialout-interval", "1s", "--gnmi-dialout-encoding", "proto",
    )
    lines = collector.wait_until(
        lambda ls: {n["target"] for n in notifications(ls)} >= expected, timeout=30
    )
    got = notifications(lines)
    assert {n["target"] for n in got} == expected
    for n in got:
        assert n["peer"].split(":")[0] == n["target"], "each device dials from its own address"
        assert len(n["updates"]) == 170
