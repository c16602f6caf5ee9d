"""BGP neighbours seen by pygnmi: a vendor profile's neighbour count, their session state
and prefix counters over Get, ON_CHANGE and SAMPLE, and a session that flaps with the
interface it runs over."""

import re
import time

import pytest
from pygnmi.client import gNMIclient

from conftest import Daemon, call, free_port, gnmi_get

# Every address of this file is in 127.87.0.0/16.
MX = "127.87.1.1"
SONIC = "127.87.2.1"
DEADLINE = 20.0
BGP = "/network-instances/network-instance[name=default]/protocols/protocol[identifier=BGP][name=BGP]/bgp"
NEIGHBOR = re.compile(r"neighbor\[neighbor-address=(10\.255\.\d+\.\d+)\]")


@pytest.fixture(scope="module")
def fleet():
    """One nl6d (plaintext dial-in, REST) with a juniper-mx and a sonic device."""
    rest, gnmi = free_port(), free_port()
    daemon = Daemon(
        ["--auto-count", "0", "--gnmi-port", str(gnmi), "--gnmi-tls=false", "--listen", f"127.0.0.1:{rest}"]
    )
    api = f"http://127.0.0.1:{rest}"
    try:
        for ip, device_type in ((MX, "juniper-mx"), (SONIC, "sonic")):
            body = {"start_ip": ip, "device_count": 1, "interfaces": 2, "device_type": device_type}
            status, reply = call(api, "POST", "/api/v1/devices", body)
            assert status == 201, reply
        yield api, gnmi
    finally:
        code = daemon.stop()
    assert code == 0, "nl6d did not exit 0 on SIGTERM:\n" + "\n".join(daemon.lines)




@pytest.mark.parametrize("encoding", ["json_ietf", "proto"])
def test_get_neighbors_state_and_prefixes(fleet, encoding):
    _, port = fleet
    states = gnmi_get(MX, port, f"{BGP}/neighbors/neighbor/state/session-state", encoding)
    assert len(states) == 16, states
    assert set(states.values()) == {"ESTABLISHED"}
    addresses = {NEIGHBOR.search(p).group(1) for p in states}
    assert addresses == {f"10.255.0.{i}" for i in range(1, 17)}

    one = f"{BGP}/neighbors/neighbor[neighbor-address=10.255.0.3]"
    state = gnmi_get(MX, port, f"{one}/state", encoding)
    leaf = lambda name: state[f"{one}/state/{name}".lstrip("/")]
    assert leaf("neighbor-address") == "10.255.0.3"
    assert 65000 <= leaf("peer-as") < 65500 and 64512 <= leaf("local-as") < 65512
    # uint64 is a JSON string in JSON_IETF, a number in PROTO.
    established = leaf("last-established")
    assert isinstance(established, str if encoding == "json_ietf" else int), established

    afi = f"{one}/afi-safis/afi-safi[afi-safi-name=IPV4_UNICAST]/state"
    prefixes = gnmi_get(MX, port, afi, encoding)
    count = lambda name: prefixes[f"{afi}/prefixes/{name}".lstrip("/")]
    assert prefixes[f"{afi}/active".lstrip("/")] is True
    assert 0 < count("installed") <= count("received") and count("sent") > 0, prefixes


def test_on_change_session_state_then_sampled_prefixes(fleet):
    _, port = fleet
    request = {
        "subscription": [{"path": f"{BGP}/neighbors/neighbor/state/session-state", "mode": "on_change"}],
        "mode": "stream",
        "encoding": "json_ietf",
    }
    with gNMIclient(target=(SONIC, port), insecure=True) as gc:
        sub = gc.subscribe_stream(subscribe=request)
        first = sub.get_update(timeout=DEADLINE)
        sub.close()
    assert first.get("sync_response") is True
    states = {NEIGHBOR.search(u["path"]).group(1): u["val"] for u in first["update"]["update"]}
    assert states == {"10.255.0.1": "ESTABLISHED", "10.255.0.2": "ESTABLISHED"}

    request = {
        "subscription": [
            {
                "path": f"{BGP}/neighbors/neighbor/afi-safis/afi-safi/state/prefixes/received",
                "mode": "sample",
                "sample_interval": 1_000_000_000,
            }
        ],
        "mode": "stream",
        "encoding": "json_ietf",
    }
    stamps = []
    deadline = time.monotonic() + DEADLINE
    with gNMIclient(target=(SONIC, port), insecure=True) as gc:
        sub = gc.subscribe_stream(subscribe=request)
        while len(stamps) < 2:
            left = deadline - time.monotonic()
            assert left > 0, "fewer than two samples within the deadline"
            message = sub.get_update(timeout=left)
            updates = message["update"]["update"]
            assert len(updates) == 2 and all(u["val"] > 0 for u in updates), updates
            stamps.append(message["update"]["timestamp"])
        sub.close()
    assert stamps[0] < stamps[1]


def test_a_session_flaps_with_its_interface(fleet):
    api, port = fleet
    # SONiC's first neighbour, 10.255.0.1, runs over its first interface (ifindex 1).
    path = f"{BGP}/neighbors/neighbor[neighbor-address=10.255.0.1]/state/session-state"
    request = {"subscription": [{"path": path, "mode": "on_change"}], "mode": "stream", "encoding": "json_ietf"}
    seen = []
    with gNMIclient(target=(SONIC, port), insecure=True) as gc:
        sub = gc.subscribe_stream(subscribe=request)
        first = sub.get_update(timeout=DEADLINE)
        seen.append(first["update"]["update"][0]["val"])
        status, reply = call(
            api, "POST", f"/api/v1/devices/{SONIC}/interfaces/1/oper-status", {"status": "DOWN", "duration": "1s"}
        )
        assert status == 202, reply
        deadline = time.monotonic() + DEADLINE
        while seen[-2:] != ["ACTIVE", "ESTABLISHED"]:
            left = deadline - time.monotonic()
            assert left > 0, f"the session did not go down and back within {DEADLINE}s: {seen}"
            message = sub.get_update(timeout=left)
            seen.extend(u["val"] for u in message["update"]["update"])
        sub.close()
    assert seen == ["ESTABLISHED", "ACTIVE", "ESTABLISHED"], seen


def test_a_bgp_flap_goes_idle_active_established(fleet):
    api, port = fleet
    one = f"{BGP}/neighbors/neighbor[neighbor-address=10.255.0.2]/state"
    request = {"subscription": [{"path": f"{one}/session-state", "mode": "on_change"}], "mode": "stream", "encoding": "json_ietf"}
    seen = []
    with gNMIclient(target=(SONIC, port), insecure=True) as gc:
        sub = gc.subscribe_stream(subscribe=request)
        first = sub.get_update(timeout=DEADLINE)
        seen.append(first["update"]["update"][0]["val"])
        status, reply = call(api, "POST", f"/api/v1/devices/{SONIC}/bgp/neighbors/10.255.0.2/flap", {"duration": "1s"})
        assert status == 202, reply
        deadline = time.monotonic() + DEADLINE
        while len(seen) < 4:
            left = deadline - time.monotonic()
            assert left > 0, f"the session did not flap within {DEADLINE}s: {seen}"
            message = sub.get_update(timeout=left)
            if "update" in message:
                seen.extend(u["val"] for u in message["update"]["update"])
        sub.close()
    assert seen == ["ESTABLISHED", "IDLE", "ACTIVE", "ESTABLISHED"], seen
    counts = gnmi_get(SONIC, port, f"{one}/established-transitions", "json_ietf")
    assert list(counts.values()) == ["2"], counts
