"""pygnmi (a gNMI client nobody here wrote) against a running nl6d fleet."""

import grpc
import pytest
from pygnmi.client import gNMIclient

from conftest import call, free_port

STATE = "/interfaces/interface[name=Ethernet1]/state"


def fleet(nl6d, first_octets, *extra, tls=False, count=3):
    """Starts nl6d with `count` devices from 127.<first_octets>.1; returns (daemon, port, ips)."""
    port = free_port()
    start = f"127.{first_octets}.1"
    args = ["--auto-start-ip", start, "--auto-count", str(count), "--gnmi-port", str(port)]
    if not tls:
        args.append("--gnmi-tls=false")
    daemon = nl6d(*args, *extra)
    base = start.rsplit(".", 1)[0]
    return daemon, port, [f"{base}.{i}" for i in range(1, count + 1)]


def client(ip, port, tls=False, **kw):
    if tls:
        return gNMIclient(target=(ip, port), skip_verify=True, **kw)
    return gNMIclient(target=(ip, port), insecure=True, **kw)


def grpc_code(exc):
    """The gRPC status code behind a pygnmi exception (pygnmi wraps grpc.RpcError)."""
    orig = getattr(exc, "orig_exc", None) or exc.__cause__ or exc.__context__
    while orig is not None and not isinstance(orig, grpc.RpcError):
        orig = getattr(orig, "orig_exc", None) or orig.__cause__ or orig.__context__
    assert orig is not None, f"no grpc.RpcError behind {exc!r}"
    return orig.code()


@pytest.mark.parametrize("tls", [False, True], ids=["plaintext", "tls"])
def test_capabilities(nl6d, tls):
    _, port, ips = fleet(nl6d, "91.0" if tls else "91.1", tls=tls)
    with client(ips[0], port, tls=tls) as gc:
        caps = gc.capabilities()
    assert caps["gnmi_version"] == "0.10.0"
    assert {"json", "json_ietf", "proto"} <= set(caps["supported_encodings"])
    assert any(m["name"] == "openconfig-interfaces" for m in caps["supported_models"])


@pytest.mark.parametrize("tls", [False, True], ids=["plaintext", "tls"])
def test_get_json_ietf(nl6d, tls):
    _, port, ips = fleet(nl6d, "92.0" if tls else "92.1", tls=tls)
    with client(ips[1], port, tls=tls) as gc:
        result = gc.get(path=[STATE + "/oper-status", STATE + "/counters/in-octets"], encoding="json_ietf")
    notifications = result["notification"]
    assert len(notifications) == 2
    values = {}
    for n in notifications:
        for u in n["update"]:
            values[u["path"]] = u["val"]
    oper = [v for p, v in values.items() if p.endswith("oper-status")]
    octets = [v for p, v in values.items() if p.endswith("in-octets")]
    assert oper == ["openconfig-interfaces:UP"]
    assert len(octets) == 1 and int(octets[0]) > 0


def test_get_unknown_path_fails(nl6d):
    _, port, ips = fleet(nl6d, "92.2")
    with client(ips[0], port) as gc:
        with pytest.raises(Exception) as err:
            gc.get(path=["/interfaces/interface[name=Nope9]/state"], encoding="json_ietf")
    assert grpc_code(err.value) == grpc.StatusCode.NOT_FOUND
    assert "Nope9" in str(err.value)


@pytest.mark.parametrize("tls", [False, True], ids=["plaintext", "tls"])
def test_subscribe_once(nl6d, tls):
    _, port, ips = fleet(nl6d, "93.0" if tls else "93.1", tls=tls)
    request = {
        "subscription": [{"path": "/interfaces/interface[name=*]/state/counters"}],
        "mode": "once",
        "encoding": "json_ietf",
    }
    with client(ips[2], port, tls=tls) as gc:
        messages = list(gc.subscribe2(subscribe=request))
    assert "sync_response" in messages[-1]
    updates = [u for m in messages if "update" in m for u in m["update"]["update"]]
    assert len(updates) == 10 * 12
    assert all(int(u["val"]) >= 0 for u in updates)


def test_subscribe_poll(nl6d):
    _, port, ips = fleet(nl6d, "94.1")
    request = {
        "subscription": [{"path": STATE + "/counters/in-octets"}],
        "mode": "poll",
        "encoding": "json_ietf",
    }
    with client(ips[0], port) as gc:
        sub = gc.subscribe_poll(subscribe=request)
        values = []
        for _ in range(3):
            resp = sub.get_update(timeout=10)
            assert resp.get("sync_response") is True
            (val,) = [u["val"] for u in resp["update"]["update"]]
            values.append(int(val))
        sub.close()
    assert values == sorted(values), "counters never decrease"


def test_subscribe_stream_sample(nl6d):
    _, port, ips = fleet(nl6d, "95.1")
    request = {
        "subscription": [{"path": STATE + "/counters/out-octets", "mode": "sample", "sample_interval": 1_000_000_000}],
        "mode": "stream",
        "encoding": "json_ietf",
    }
    with client(ips[0], port) as gc:
        sub = gc.subscribe_stream(subscribe=request)
        first = sub.get_update(timeout=10)
        assert first.get("sync_response") is True
        stamps = [first["update"]["timestamp"]]
        for _ in range(2):
            nxt = sub.get_update(timeout=10)
            stamps.append(nxt["update"]["timestamp"])
        sub.close()
    assert stamps == sorted(stamps) and len(set(stamps)) == 3


def test_username_password(nl6d):
    _, port, ips = fleet(nl6d, "96.1", "--gnmi-username", "admin", "--gnmi-password", "s3cret")
    with client(ips[0], port, username="admin", password="s3cret") as gc:
        assert gc.capabilities()["gnmi_version"] == "0.10.0"
    with pytest.raises(Exception) as err:
        with client(ips[0], port, username="admin", password="wrong") as gc:
            gc.get(path=[STATE], encoding="json_ietf")
    assert grpc_code(err.value) == grpc.StatusCode.UNAUTHENTICATED


def test_get_container_is_one_rfc7951_object_per_interface(nl6d):
    _, port, ips = fleet(nl6d, "92.3")
    with client(ips[0], port) as gc:
        result = gc.get(path=["/interfaces/interface[name=*]/state"], encoding="json_ietf")
    updates = result["notification"][0]["update"]
    assert len(updates) == 10, "one update per interface"
    first = updates[0]["val"]
    assert isinstance(first, dict)
    assert first["openconfig-interfaces:oper-status"] == "openconfig-interfaces:UP"
    assert first["openconfig-interfaces:ifindex"] == 1, "uint32 is a JSON number"
    counters = first["openconfig-interfaces:counters"]
    assert len(counters) == 12 and isinstance(counters["in-octets"], str), "uint64 is a JSON string"


def test_reboot_restarts_the_counters(nl6d):
    rest = free_port()
    _, port, ips = fleet(nl6d, "97.1", "--listen", f"127.0.0.1:{rest}", count=2)
    api = f"http://127.0.0.1:{rest}"
    leaves = [STATE + "/counters/in-octets", STATE + "/last-change"]

    def read(gc):
        result = gc.get(path=leaves, encoding="json_ietf")
        return {u["path"].rsplit("/", 1)[-1]: int(u["val"]) for n in result["notification"] for u in n["update"]}

    status, page = call(api, "GET", "/api/v1/devices")
    assert status == 200, page
    boots = {d["ip"]: d["boot_time"] for d in page["data"]["devices"]}
    assert len(set(boots.values())) == 2, f"each device boots at its own time: {boots}"

    with client(ips[0], port) as gc:
        before = read(gc)
        status, body = call(api, "POST", f"/api/v1/devices/{ips[0]}/reboot")
        assert status == 200, body
        boot_ns = body["data"]["boot_time_ns"]
        after = read(gc)
    assert after["in-octets"] < before["in-octets"], (before, after)
    assert after["last-change"] == boot_ns
    status, device = call(api, "GET", f"/api/v1/devices/{ips[0]}")
    assert device["data"]["boot_time"] == body["data"]["boot_time"] != boots[ips[0]]

    status, body = call(api, "POST", "/api/v1/devices/127.97.9.9/reboot")
    assert status == 404 and body["success"] is False and "127.97.9.9" in body["message"]
