"""nl6 dial-out flavors received by Python grpcio collectors: SONiC (with fail-over and
return), Nokia SR OS (metadata, PublishResponses) and Arista PublishGet."""

import json
import signal
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import Daemon, free_port, wait_for

COLLECTOR = Path(__file__).with_name("flavor_collector.py")


@pytest.fixture
def collector(tmp_path):
    """Factory: a grpcio collector of one flavor; (process, port)."""
    started = []

    def start(flavor, *extra, port=None):
        port = port or free_port()
        proc = Daemon(
            ["--flavor", flavor, "--port", str(port), "--stubs", str(tmp_path / f"stubs-{flavor}"), *extra],
            binary_name=f"grpcio {flavor} collector",
            ready="listening on",
            command=[sys.executable, str(COLLECTOR)],
        )
        started.append(proc)
        return proc, port

    yield start
    for proc in started:
        if proc.proc.poll() is None:
            proc.proc.send_signal(signal.SIGKILL)
        proc.stop()


def notifications(proc):
    return [json.loads(line) for line in proc.lines_matching(lambda l: l.startswith("{"))]


def streams(proc):
    """(ip, subscription, system) of every stream the collector saw start."""
    out = []
    for line in proc.lines_matching(lambda l: l.startswith("stream from ")):
        ip, sub, system = line.removeprefix("stream from ").split(" ")
        out.append((ip, sub.removeprefix("subscription="), system.removeprefix("system=")))
    return out


def devices(octets, count):
    return [f"127.{octets}.{i}" for i in range(1, count + 1)]


def start_daemon(nl6d, octets, count, *flags):
    api = f"127.0.0.1:{free_port()}"
    nl6d(
        "--auto-start-ip", f"127.{octets}.1", "--auto-count", str(count), "--auto-netmask", "24",
        "--gnmi-port", str(free_port()), "--gnmi-tls=false", "--listen", api,
        "--gnmi-mode", "dial-out", "--gnmi-dialout-tls=false", "--gnmi-dialout-interval", "1s",
        *flags,
    )
    return f"http://{api}"


def get_json(api, path):
    with urllib.request.urlopen(api + path, timeout=10) as reply:
        return json.loads(reply.read())


def listing(api):
    """Every device by address, following `next_cursor` page by page."""
    devices, path = {}, "/api/v1/devices"
    while True:
        data = get_json(api, path)["data"]
        devices.update((d["ip"], d) for d in data["devices"])
        if "next_cursor" not in data:
            return devices
        path = f"/api/v1/devices?cursor={data['next_cursor']}"


def check_notifications(proc, expected):
    got = notifications(proc)
    assert {n["peer"] for n in got} == set(expected)
    for n in got:
        assert n["target"] == n["peer"], "Prefix.target is the device address"


RETRY_INTERVAL = 3.0
FAILBACK = 4.0


def test_sonic_streams_fail_over_in_order_and_return_after_failback(nl6d, collector):
    first, first_port = collector("sonic", "--respond")
    second, second_port = collector("sonic")
    expected = devices("72.1", 3)
    api = start_daemon(
        nl6d, "72.1", 3,
        "--gnmi-dialout-flavor", "sonic",
        "--gnmi-dialout-collectors", f"127.0.0.1:{first_port},127.0.0.1:{second_port}",
        "--gnmi-dialout-retry-interval", f"{RETRY_INTERVAL:g}s",
        "--gnmi-dialout-failback", f"{FAILBACK:g}s",
    )
    first.wait_until(lambda _l: {n["peer"] for n in notifications(first)} == set(expected), timeout=30)
    check_notifications(first, expected)
    assert sorted(ip for ip, _, _ in streams(first)) == expected, "one stream per device"
    assert streams(second) == [], "the second collector is the backup"
    assert all(d["dialout_collector"] == f"127.0.0.1:{first_port}" for d in listing(api).values())

    # Stop the first collector: every device reaches the second within its retry interval.
    first.proc.send_signal(signal.SIGKILL)
    first.stop()
    stopped = time.monotonic()
    wait_for(
        "every device streaming to the second",
        lambda: sorted({ip for ip, _, _ in streams(second)}) == expected,
        timeout=RETRY_INTERVAL,
    )
    reached = time.monotonic()
    assert reached - stopped <= RETRY_INTERVAL
    second.wait_until(lambda _l: {n["peer"] for n in notifications(second)} == set(expected), timeout=10)
    check_notifications(second, expected)
    rows = {r["collector"]: r for r in get_json(api, "/api/v1/gnmi/dialout/status")["collectors"]}
    assert rows[f"127.0.0.1:{second_port}"]["devices_connected"] == 3
    assert rows[f"127.0.0.1:{first_port}"]["devices_connected"] == 0
    assert rows[f"127.0.0.1:{first_port}"]["responses_received"] > 0, "PublishResponses counted"
    assert rows[f"127.0.0.1:{second_port}"]["responses_received"] == 0, "and never required"
    assert all(d["dialout_collector"] == f"127.0.0.1:{second_port}" for d in listing(api).values())

    # The first is back: after the failback time on the second, every device returns.
    again, _ = collector("sonic", port=first_port)
    again.wait_until(
        lambda _l: sorted({ip for ip, _, _ in streams(again)}) == expected,
        timeout=FAILBACK + RETRY_INTERVAL + 5,
    )
    wait_for(
        "every device listed at the first",
        lambda: all(d["dialout_collector"] == f"127.0.0.1:{first_port}" for d in listing(api).values()),
        timeout=10,
    )


def test_nokia_streams_carry_subscription_and_system_name(nl6d, collector):
    proc, port = collector("nokia")
    expected = devices("72.2", 3)
    api = start_daemon(
        nl6d, "72.2", 3,
        "--gnmi-dialout-collector", f"127.0.0.1:{port}",
        "--gnmi-dialout-flavor", "nokia",
        "--gnmi-dialout-subscription", "nl6-interop",
        "--hostname", "sr-{n}",
    )
    proc.wait_until(lambda _l: {n["peer"] for n in notifications(proc)} == set(expected), timeout=30)
    check_notifications(proc, expected)
    assert sorted(streams(proc)) == [
        (ip, "nl6-interop", f"sr-{i}") for i, ip in enumerate(expected, start=1)
    ]
    hosts = {ip: d["hostname"] for ip, d in listing(api).items()}
    assert hosts == {ip: f"sr-{i}" for i, ip in enumerate(expected, start=1)}
    wait_for(
        "PublishResponses counted",
        lambda: get_json(api, "/api/v1/gnmi/dialout/status")["collectors"][0]["responses_received"] >= 3,
        timeout=10,
    )


def test_nokia_default_metadata(nl6d, collector):
    proc, port = collector("nokia")
    start_daemon(
        nl6d, "72.3", 1,
        "--gnmi-dialout-collector", f"127.0.0.1:{port}",
        "--gnmi-dialout-flavor", "nokia",
    )
    proc.wait_until(lambda _l: streams(proc), timeout=30)
    assert streams(proc) == [("127.72.3.1", "nl6", "nl6-127-72-3-1")]


def test_arista_publish_get_sends_get_responses(nl6d, collector):
    proc, port = collector("get")
    expected = devices("72.4", 2)
    start_daemon(
        nl6d, "72.4", 2,
        "--gnmi-dialout-collector", f"127.0.0.1:{port}",
        "--gnmi-dialout-publish", "get",
        "--gnmi-dialout-paths",
        "/interfaces/interface[name=Ethernet1]/state/oper-status,/interfaces/interface[name=*]/state/counters/in-octets",
    )

    def two_each(_lines):
        got = notifications(proc)
        return all(sum(1 for n in got if n["peer"] == d and n["get"] == 1) >= 2 for d in expected)

    proc.wait_until(two_each, timeout=30)
    check_notifications(proc, expected)
    for n in notifications(proc):
        assert n["updates"] == (1 if n["get"] == 0 else 10), n
    assert sorted(ip for ip, _, _ in streams(proc)) == expected, "one stream per device"
