"""Subinterfaces seen by pygnmi: a vendor profile's subinterfaces per interface, their
state and counters over Get (both lists wildcarded, PROTO and JSON_IETF), and their
oper-status following a flapped parent over ON_CHANGE."""

import re
import time

import pytest
from pygnmi.client import gNMIclient

from conftest import Daemon, call, free_port, gnmi_get

# Every address of this file is in 127.88.0.0/16.
XR = "127.88.1.1"
GENERIC = "127.88.2.1"
DEADLINE = 20.0
SUB = re.compile(r"interface\[name=([^\]]+)\]/subinterfaces/subinterface\[index=(\d+)\]")


@pytest.fixture(scope="module")
def fleet():
    """One nl6d (plaintext dial-in, REST) with a cisco-xr and a generic device."""
    rest, gnmi = free_port(), free_port()
    daemon = Daemon(
        ["--auto-count", "0", "--gnmi-port", str(gnmi), "--gnmi-tls=false", "--listen", f"127.0.0.1:{rest}"]
    )
    api = f"http://127.0.0.1:{rest}"
    try:
        for ip, device_type in ((XR, "cisco-xr"), (GENERIC, "generic")):
            body = {"start_ip": ip, "device_count": 1, "interfaces": 2, "device_type": device_type}
            status, reply = call(api, "POST", "/api/v1/devices", body)
            assert status == 201, reply
        yield api, gnmi
    finally:
        code = daemon.stop()
    assert code == 0, "nl6d did not exit 0 on SIGTERM:\n" + "\n".join(daemon.lines)


@pytest.mark.parametrize("encoding", ["json_ietf", "proto"])
def test_get_subinterfaces_with_both_lists_wildcarded(fleet, encoding):
    _, port = fleet
    path = "/interfaces/interface[name=*]/subinterfaces/subinterface[index=*]/state"
    state = gnmi_get(XR, port, path, encoding)
    entries = {SUB.search(p).groups() for p in state}
    assert entries == {(f"HundredGigE0/0/0/{i}", str(s)) for i in (0, 1) for s in (0, 1)}, entries
    assert len(state) == 4 * 19, state

    one = "interfaces/interface[name=HundredGigE0/0/0/1]/subinterfaces/subinterface[index=1]/state"
    assert state[f"{one}/index"] == 1
    assert state[f"{one}/name"] == "HundredGigE0/0/0/1.1"
    assert state[f"{one}/oper-status"] == "UP"
    octets = state[f"{one}/counters/in-octets"]
    # uint64 is a JSON string in JSON_IETF, a number in PROTO.
    assert isinstance(octets, str if encoding == "json_ietf" else int), octets
    parent = gnmi_get(XR, port, "/interfaces/interface[name=HundredGigE0/0/0/1]/state/counters/in-octets", encoding)
    (total,) = parent.values()
    assert 0 < int(octets) <= int(total)


def test_a_profile_without_subinterfaces_serves_none(fleet):
    _, port = fleet
    with gNMIclient(target=(GENERIC, port), insecure=True) as gc:
        with pytest.raises(Exception, match="does not exist on this device"):
            gc.get(path=["/interfaces/interface/subinterfaces"], encoding="json_ietf")


def test_on_change_subinterfaces_follow_a_flapped_parent(fleet):
    api, port = fleet
    path = "/interfaces/interface[name=HundredGigE0/0/0/0]/subinterfaces/subinterface[index=*]/state/oper-status"
    request = {"subscription": [{"path": path, "mode": "on_change"}], "mode": "stream", "encoding": "json_ietf"}
    seen = {}
    with gNMIclient(target=(XR, port), insecure=True) as gc:
        sub = gc.subscribe_stream(subscribe=request)
        first = sub.get_update(timeout=DEADLINE)
        initial = {SUB.search(u["path"]).group(2): u["val"] for u in first["update"]["update"]}
        assert initial == {"0": "UP", "1": "UP"}, first
        status, reply = call(
            api, "POST", f"/api/v1/devices/{XR}/interfaces/1/oper-status", {"status": "DOWN", "duration": "1s"}
        )
        assert status == 202, reply
        history = []
        deadline = time.monotonic() + DEADLINE
        while not (history[-2:] == ["UP", "UP"] and "DOWN" in history):
            left = deadline - time.monotonic()
            assert left > 0, f"the subinterfaces did not go down and back within {DEADLINE}s: {history}"
            message = sub.get_update(timeout=left)
            if "update" not in message:
                continue
            for u in message["update"]["update"]:
                seen[SUB.search(u["path"]).group(2)] = u["val"]
                history.append(u["val"])
        sub.close()
    assert history == ["DOWN", "DOWN", "UP", "UP"], history
    assert seen == {"0": "UP", "1": "UP"}
