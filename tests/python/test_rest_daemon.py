"""The REST API of a running nl6d, with the change observed by pygnmi (ON_CHANGE)."""

from pygnmi.client import gNMIclient

from conftest import call, free_port


def list_devices(api, limit=None):
    """Every device, following `next_cursor` page by page, and the pages fetched."""
    devices, cursor, pages = [], None, 0
    while True:
        query = [f"limit={limit}"] if limit else []
        if cursor:
            query.append(f"cursor={cursor}")
        status, body = call(api, "GET", "/api/v1/devices" + ("?" + "&".join(query) if query else ""))
        assert status == 200, body
        devices += body["data"]["devices"]
        pages += 1
        cursor = body["data"].get("next_cursor")
        if cursor is None:
            assert len(devices) == body["data"]["total"]
            return devices, pages


def test_rest_drives_the_fleet_and_on_change_subscribers_see_it(nl6d):
    rest, gnmi = free_port(), free_port()
    nl6d("--auto-count", "0", "--gnmi-port", str(gnmi), "--gnmi-tls=false", "--listen", f"127.0.0.1:{rest}")
    api = f"http://127.0.0.1:{rest}"

    status, body = call(api, "POST", "/api/v1/devices", {"start_ip": "127.73.0.1", "device_count": 20})
    assert status == 201, body
    assert body["success"] is True and body["data"]["created"] == 20

    # One bad field fails the whole batch and creates nothing.
    status, body = call(api, "POST", "/api/v1/devices",
                        {"start_ip": "127.73.1.1", "device_count": 5, "interfaces": 0})
    assert status == 400 and body["success"] is False and "interfaces" in body["message"]
    status, body = call(api, "POST", "/api/v1/devices", {"start_ip": "127.73.1.1", "colour": "red"})
    assert status == 400 and "colour" in body["message"]
    devices, pages = list_devices(api)
    assert len(devices) == 20 and pages == 1
    devices, pages = list_devices(api, limit=7)
    assert pages == 3 and [d["ip"] for d in devices] == [f"127.73.0.{n}" for n in range(1, 21)]
    status, body = call(api, "GET", "/api/v1/devices?limit=0")
    assert status == 400 and "limit" in body["message"]
    status, body = call(api, "GET", "/api/v1/devices?cursor=nope")
    assert status == 400 and "cursor" in body["message"]

    request = {
        "subscription": [{"path": "/interfaces/interface[name=Ethernet3]/state/oper-status", "mode": "on_change"}],
        "mode": "stream",
        "encoding": "json_ietf",
    }
    with gNMIclient(target=("127.73.0.7", gnmi), insecure=True) as gc:
        sub = gc.subscribe_stream(subscribe=request)
        first = sub.get_update(timeout=10)
        assert first.get("sync_response") is True
        assert [u["val"] for u in first["update"]["update"]] == ["openconfig-interfaces:UP"]

        status, body = call(api, "POST", "/api/v1/devices/127.73.0.7/interfaces/3/oper-status",
                            {"status": "DOWN", "duration": "2s"})
        assert status == 202, body
        assert body == {"link": "DOWN", "oper_status": "DOWN", "admin_status": "UP", "masked": False}
        change = sub.get_update(timeout=10)
        assert [u["val"] for u in change["update"]["update"]] == ["openconfig-interfaces:DOWN"]
        # The duration ends: the previous value comes back on its own.
        back = sub.get_update(timeout=10)
        assert [u["val"] for u in back["update"]["update"]] == ["openconfig-interfaces:UP"]
        sub.close()

    status, body = call(api, "POST", "/api/v1/devices/127.73.0.7/interfaces/99/oper-status", {"status": "DOWN"})
    assert status == 400 and body["validIfIndexes"] == list(range(1, 11))
    status, _ = call(api, "POST", "/api/v1/devices/127.73.9.9/interfaces/1/oper-status", {"status": "DOWN"})
    assert status == 404

    status, gnmi_status = call(api, "GET", "/api/v1/gnmi/status")
    assert status == 200 and gnmi_status["listeners"] == 20 and gnmi_status["updates_sent"] >= 3
    status, metrics = call(api, "GET", "/metrics")
    assert status == 200 and isinstance(metrics, str)
    assert any(line.startswith("nl6_") for line in metrics.splitlines())
    status, doc = call(api, "GET", "/api/v1/openapi.json")
    assert status == 200 and "/api/v1/devices" in doc["paths"]

    status, _ = call(api, "DELETE", "/api/v1/devices/127.73.0.7")
    assert status == 200
    status, _ = call(api, "DELETE", "/api/v1/devices/127.73.0.7")
    assert status == 404
    status, body = call(api, "DELETE", "/api/v1/devices")
    assert status == 200
    status, body = call(api, "GET", "/api/v1/devices")
    assert body["data"] == {"total": 0, "devices": []}
