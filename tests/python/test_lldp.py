"""LLDP neighbours seen by pygnmi: `POST /api/v1/topology` links two devices' interfaces,
each end then serves the other under `/lldp/interfaces/interface[name]/neighbors`, and an
ON_CHANGE subscriber sees the neighbour's delete when the peer device is deleted."""

import time

import pytest
from pygnmi.client import gNMIclient

from conftest import Daemon, call, free_port, gnmi_get

# Every address of this file is in 127.86.0.0/16.
ARISTA = ["127.86.1.1", "127.86.1.2"]
JUNOS = ["127.86.2.1", "127.86.2.2"]
DEADLINE = 20.0


@pytest.fixture(scope="module")
def fleet():
    """One nl6d (plaintext dial-in, REST) with two arista-eos and two juniper-mx devices."""
    rest, gnmi = free_port(), free_port()
    daemon = Daemon(
        ["--auto-count", "0", "--gnmi-port", str(gnmi), "--gnmi-tls=false", "--listen", f"127.0.0.1:{rest}"]
    )
    api = f"http://127.0.0.1:{rest}"
    try:
        for first, device_type in ((ARISTA[0], "arista-eos"), (JUNOS[0], "juniper-mx")):
            body = {"start_ip": first, "device_count": 2, "interfaces": 4, "device_type": device_type}
            status, reply = call(api, "POST", "/api/v1/devices", body)
            assert status == 201, reply
        yield api, gnmi
    finally:
        code = daemon.stop()
    assert code == 0, "nl6d did not exit 0 on SIGTERM:\n" + "\n".join(daemon.lines)


def end(device, interface):
    return {"device": device, "interface": interface}


def link(api, a, a_if, b, b_if):
    status, reply = call(api, "POST", "/api/v1/topology", {"links": [{"a": end(a, a_if), "b": end(b, b_if)}]})
    assert status == 201, reply
    return reply


def hostname(api, ip):
    status, reply = call(api, "GET", f"/api/v1/devices/{ip}")
    assert status == 200, reply
    return reply["data"]["hostname"]


def neighbor(interface, leaf):
    return f"lldp/interfaces/interface[name={interface}]/neighbors/neighbor[id=1]/state/{leaf}"




@pytest.mark.parametrize("encoding", ["json_ietf", "proto"])
def test_get_shows_both_ends_of_a_link_as_lldp_neighbours(fleet, encoding):
    api, port = fleet
    a, b = ARISTA[0], JUNOS[0]
    reply = link(api, a, "Ethernet2", b, "et-0/0/3")
    try:
        assert reply["data"]["changed"] == 1
        status, topology = call(api, "GET", "/api/v1/topology")
        assert status == 200, topology
        assert {"a": end(a, "Ethernet2"), "b": end(b, "et-0/0/3")} in topology["data"]["links"]

        seen = gnmi_get(a, port, "/lldp/interfaces/interface[name=Ethernet2]/neighbors", encoding)
        assert seen[neighbor("Ethernet2", "system-name")] == hostname(api, b)
        assert seen[neighbor("Ethernet2", "port-id")] == "et-0/0/3"
        assert seen[neighbor("Ethernet2", "port-id-type")] == "INTERFACE_NAME"
        assert seen[neighbor("Ethernet2", "management-address")] == b
        assert seen[neighbor("Ethernet2", "chassis-id-type")] == "MAC_ADDRESS"
        assert seen[neighbor("Ethernet2", "ttl")] == 120

        back = gnmi_get(b, port, "/lldp", encoding)
        assert back[neighbor("et-0/0/3", "system-name")] == hostname(api, a)
        assert back[neighbor("et-0/0/3", "port-id")] == "Ethernet2"
        assert back[neighbor("et-0/0/3", "chassis-id")] != seen[neighbor("Ethernet2", "chassis-id")]
        # Only the linked interface has a neighbour.
        assert all("[name=et-0/0/3]" in path for path in back), back
    finally:
        status, reply = call(api, "DELETE", f"/api/v1/topology?device={a}&interface=Ethernet2")
        assert status == 200, reply
    assert gnmi_get(a, port, "/lldp", encoding) == {}


def test_capabilities_list_openconfig_lldp(fleet):
    _, port = fleet
    with gNMIclient(target=(ARISTA[0], port), insecure=True) as gc:
        names = {m["name"] for m in gc.capabilities()["supported_models"]}
    assert "openconfig-lldp" in names, names


def test_bad_links_are_refused_naming_the_field(fleet):
    api, _ = fleet
    body = {"links": [{"a": end(ARISTA[0], "Ethernet9"), "b": end(JUNOS[0], "et-0/0/0")}]}
    status, reply = call(api, "POST", "/api/v1/topology", body)
    assert status == 400, reply
    assert reply["message"].startswith("invalid links[0].a.interface: "), reply
    body = {"links": [{"a": end(ARISTA[0], "Ethernet1"), "b": end(ARISTA[0], "Ethernet3")}]}
    status, reply = call(api, "POST", "/api/v1/topology", body)
    assert status == 400, reply
    assert reply["message"].startswith("invalid links[0].b.device: "), reply


def test_an_on_change_subscriber_sees_the_delete_when_the_peer_device_goes(fleet):
    api, port = fleet
    a, b = ARISTA[1], JUNOS[1]
    link(api, a, "Ethernet4", b, "et-0/0/0")
    request = {
        "subscription": [{"path": "/lldp/interfaces/interface/neighbors", "mode": "on_change"}],
        "mode": "stream",
        "encoding": "json_ietf",
    }
    with gNMIclient(target=(a, port), insecure=True) as gc:
        sub = gc.subscribe_stream(subscribe=request)
        first = sub.get_update(timeout=DEADLINE)
        assert first.get("sync_response") is True
        paths = {u["path"]: u["val"] for u in first["update"]["update"]}
        assert paths[neighbor("Ethernet4", "port-id")] == "et-0/0/0", paths

        status, reply = call(api, "DELETE", f"/api/v1/devices/{b}")
        assert status == 200, reply
        deadline = time.monotonic() + DEADLINE
        while True:
            left = deadline - time.monotonic()
            assert left > 0, "no delete within the deadline"
            message = sub.get_update(timeout=left)
            deletes = message.get("update", {}).get("delete", [])
            if deletes:
                break
        sub.close()
    assert [d["path"] for d in deletes] == ["lldp/interfaces/interface[name=Ethernet4]/neighbors/neighbor[id=1]"]
    status, topology = call(api, "GET", "/api/v1/topology")
    assert status == 200, topology
    assert all(b not in (l["a"]["device"], l["b"]["device"]) for l in topology["data"]["links"]), topology
