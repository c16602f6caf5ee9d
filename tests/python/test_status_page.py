"""The status page as a person sees it: nl6d's `GET /` in headless Chromium, its live
numbers checked against the status JSON, an interface flipped from the page."""

import json
import os
import struct
from pathlib import Path

import pytest
from pygnmi.client import gNMIclient

from cdp import Chromium, find_chromium, skip
from conftest import call, free_port, wait_for

TOKEN = "status-page-test-token-0123456789"


@pytest.fixture(scope="module")
def browser():
    binary = find_chromium()
    if binary is None:
        skip("test_status_page", "needs Chromium: the Debian package `chromium` "
             "(apt-get install chromium; .ci/run installs it as root), or NL6_CHROMIUM=<program>")
    chromium = Chromium(binary)
    yield chromium
    chromium.close()


def text(browser, element_id):
    return browser.evaluate(f"document.getElementById({json.dumps(element_id)}).textContent")


def number(s):
    return int(s.replace(",", ""))


def page_rows(browser):
    """The destination rows of the page: what each cell shows, and whether it is marked failing."""
    return browser.evaluate("""
        [...document.querySelectorAll('#destinations tbody tr')].map((tr) => ({
            collector: tr.dataset.collector, flavor: tr.dataset.flavor,
            failing: tr.classList.contains('failing'),
            devices: tr.querySelector('.devices').textContent,
            streams: tr.querySelector('.streams').textContent,
            rate: tr.querySelector('.rate').textContent,
            open_failures: tr.querySelector('.open-failures').textContent,
            last_error: tr.querySelector('.last-error').textContent,
        }))""")


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_the_page_shows_live_numbers_and_flips_an_interface(browser, nl6d, nl6_collector, tmp_path):
    rest, gnmi, port, closed = free_port(), free_port(), free_port(), free_port()
    nl6_collector("--plaintext", "--stats", "--listen", f"127.0.0.1:{port}")
    nl6d("--auto-count", "5", "--auto-start-ip", "127.74.0.1", "--gnmi-port", str(gnmi),
         "--gnmi-tls=false", "--listen", f"127.0.0.1:{rest}", "--gnmi-mode", "dial-out",
         "--gnmi-dialout-collector", f"127.0.0.1:{port}", "--gnmi-dialout-tls=false",
         "--gnmi-dialout-interval", "1s")
    api = f"http://127.0.0.1:{rest}"
    # Two devices whose collector does not listen: a failing destination.
    status, body = call(api, "POST", "/api/v1/devices", {
        "start_ip": "127.74.1.1", "device_count": 2, "interface_naming": "xr",
        "gnmi_dialout": {"collector": f"127.0.0.1:{closed}", "tls": {"enabled": False}}})
    assert status == 201, body

    request = {"subscription": [{"path": "/interfaces/interface[name=Ethernet1]/state/counters",
                                 "mode": "sample", "sample_interval": 1_000_000_000}],
               "mode": "stream", "encoding": "json_ietf"}
    with gNMIclient(target=("127.74.0.1", gnmi), insecure=True) as gc:
        sub = gc.subscribe_stream(subscribe=request)
        sub.get_update(timeout=10)

        browser.navigate(api + "/")
        # Live numbers: both destinations listed, updates flowing on both protocols.
        browser.wait_for("""(() => {
            const rows = [...document.querySelectorAll('#destinations tbody tr')];
            const rate = (id) => parseFloat(document.getElementById(id).textContent.replace(/,/g, ''));
            const up = rows.find((r) => !r.classList.contains('failing'));
            return document.getElementById('fleet-devices').textContent === '7'
                && rows.length === 2 && rows.some((r) => r.classList.contains('failing'))
                && up && parseFloat(up.querySelector('.rate').textContent) > 0
                && up.querySelector('.streams').textContent === '5'
                && document.getElementById('dialin-subscriptions').textContent === '1'
                && rate('dialin-rate') > 0;
        })()""", timeout=30, what="live numbers on the page")

        _, server = call(api, "GET", "/api/v1/status")
        _, dialin = call(api, "GET", "/api/v1/gnmi/status")
        _, dialout = call(api, "GET", "/api/v1/gnmi/dialout/status")
        assert number(text(browser, "fleet-devices")) == server["devices"] == 7
        assert number(text(browser, "fleet-interfaces")) == server["composition"]["interfaces"] == 70
        assert text(browser, "fleet-mode") == server["network_mode"] == "loopback"
        naming = browser.evaluate(
            "Object.fromEntries([...document.querySelectorAll('#by-naming tbody tr')]"
            ".map((tr) => [tr.cells[0].textContent, tr.cells[1].textContent]))")
        assert {k: number(v) for k, v in naming.items()} == server["composition"]["by_naming"] == {"arista": 5, "xr": 2}
        assert number(text(browser, "dialin-subscriptions")) == dialin["active_subscriptions"] == 1
        assert number(text(browser, "dialin-connections")) == dialin["connections_open"] >= 1

        rows = {(r["collector"], r["flavor"]): r for r in page_rows(browser)}
        assert len(rows) == len(dialout["collectors"]) == 2
        for c in dialout["collectors"]:
            row = rows[(c["collector"], c["flavor"])]
            assert number(row["devices"]) == c["devices"]
            assert number(row["streams"]) == c["streams_active"]
            if c["collector"] == f"127.0.0.1:{closed}":
                assert row["failing"], row
                assert c["last_error"] and row["last_error"], (row, c)
                assert c["streams_active"] == 0 and number(row["open_failures"]) >= 1
            else:
                assert not row["failing"] and row["last_error"] == "", row
                assert float(row["rate"].replace(",", "")) > 0
        # The charts have a line per series once samples arrived.
        assert browser.evaluate("document.querySelectorAll('#chart-updates polyline').length") == 3

        # Look up one device and flip its Ethernet3 from the page.
        browser.evaluate("""
            document.getElementById('lookup-ip').value = '127.74.0.2';
            document.getElementById('lookup-form').requestSubmit();""")
        browser.wait_for("document.querySelectorAll('#device-interfaces tbody tr').length === 10",
                         what="the device's interfaces")
        assert "127.74.0.2" in text(browser, "device-title")
        config = browser.evaluate("[...document.querySelectorAll('#device-config tbody tr')]"
                                  ".map((tr) => tr.cells[0].textContent)")
        assert "gnmi_dialout.collector" in config, config
        _, before = call(api, "GET", "/api/v1/devices/127.74.0.2/interfaces")
        assert before["data"]["interfaces"][2]["link"] == "UP"
        browser.evaluate("document.querySelector('#device-interfaces tr[data-ifindex=\"3\"] button.flip').click()")
        browser.wait_for("document.querySelector('#device-interfaces tr[data-ifindex=\"3\"] .oper')"
                         ".textContent === 'DOWN'", what="the page showing Ethernet3 DOWN")
        _, after = call(api, "GET", "/api/v1/devices/127.74.0.2/interfaces")
        flipped = after["data"]["interfaces"][2]
        assert (flipped["name"], flipped["link"], flipped["oper_status"]) == ("Ethernet3", "DOWN", "DOWN")
        assert flipped["last_change"] > 0
        assert [i["link"] for i in after["data"]["interfaces"]].count("DOWN") == 1

        shot = browser.screenshot(tmp_path / "status-page.png")
        assert png_size(shot) == (1280, 800)
        assert len(shot) > 10_000
        print(f"screenshot: {tmp_path / 'status-page.png'}")
        sub.close()


def test_the_page_lists_a_measured_run_as_its_report_says(browser, nl6d, nl6_collector, tmp_path):
    rest, gnmi, port = free_port(), free_port(), free_port()
    nl6_collector("--plaintext", "--stats", "--listen", f"127.0.0.1:{port}")
    nl6d("--auto-count", "4", "--auto-start-ip", "127.74.3.1", "--gnmi-port", str(gnmi),
         "--gnmi-tls=false", "--listen", f"127.0.0.1:{rest}", "--gnmi-mode", "dial-out",
         "--gnmi-dialout-collector", f"127.0.0.1:{port}", "--gnmi-dialout-tls=false",
         "--gnmi-dialout-interval", "1s")
    api = f"http://127.0.0.1:{rest}"
    browser.navigate(api + "/")
    browser.wait_for("!document.getElementById('no-runs').hidden", what="the empty run list")

    status, armed = call(api, "POST", "/api/v1/runs", {
        "devices": {"all": True}, "window": "3s", "pre_roll": "1s", "slices": 3, "seed": 5,
        "drain": "5s"})
    assert status == 201, armed
    run = armed["data"]["id"]
    browser.wait_for(f"document.querySelector('#run-list tr[data-run=\"{run}\"]') !== null",
                     what="the armed run on the page")

    def report():
        return call(api, "GET", f"/api/v1/runs/{run}")[1]["data"]

    final = wait_for("the run finishes", lambda: (r := report())["state"] == "finished" and r,
                     timeout=30)
    assert final["participants"] == 4 and final["totals"]["sent"]["messages"] >= 4 * 3 - 4
    browser.wait_for(f"document.querySelector('#run-list tr[data-run=\"{run}\"] .state')"
                     ".textContent === 'finished'", what="the finished run on the page")
    row = browser.evaluate(f"""(() => {{
        const tr = document.querySelector('#run-list tr[data-run="{run}"]');
        const t = (c) => tr.querySelector('.' + c).textContent;
        return {{protocol: t('protocol'), participants: t('participants'),
                 sent: t('sent-messages'), updates: t('sent-updates'), dropped: t('dropped'),
                 unsettled: t('unsettled'), failing: tr.classList.contains('failing')}};
    }})()""")
    assert row["protocol"] == final["protocol"] == "gnmi-dialout"
    assert number(row["participants"]) == final["participants"]
    assert number(row["sent"]) == final["totals"]["sent"]["messages"]
    assert number(row["updates"]) == final["totals"]["sent"]["updates"]
    assert number(row["dropped"]) == final["totals"]["dropped"]["messages"] == 0
    assert number(row["unsettled"]) == final["unsettled"] == 0
    assert not row["failing"]
    _, listed = call(api, "GET", "/api/v1/runs")
    assert [r["id"] for r in listed["data"]] == [run]
    assert listed["data"][0]["totals"] == final["totals"]

    browser.evaluate("document.getElementById('runs').scrollIntoView()")
    shot = browser.screenshot(tmp_path / "runs-page.png")
    assert png_size(shot) == (1280, 800)
    print(f"screenshot: {tmp_path / 'runs-page.png'}")


def test_the_page_asks_for_the_token_and_sends_it(browser, nl6d, tmp_path):
    rest, gnmi = free_port(), free_port()
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    nl6d("--auto-count", "3", "--auto-start-ip", "127.74.2.1", "--gnmi-port", str(gnmi),
         "--gnmi-tls=false", "--listen", f"127.0.0.1:{rest}", "--rest-token-file", str(token_file))
    api = f"http://127.0.0.1:{rest}"
    status, _ = call(api, "GET", "/api/v1/status")
    assert status == 401
    browser.navigate(api + "/")
    browser.wait_for("!document.getElementById('token-form').hidden"
                     " && document.getElementById('live').textContent === 'needs token'",
                     what="the token form")
    # A wrong token is refused and asked for again.
    browser.evaluate("""
        document.getElementById('token-input').value = 'not-the-token-0123456789';
        document.getElementById('token-form').requestSubmit();""")
    browser.wait_for("!document.getElementById('token-form').hidden"
                     " && document.getElementById('token-error').textContent.includes('refused')",
                     what="the refusal")
    browser.evaluate(f"""
        document.getElementById('token-input').value = {json.dumps(TOKEN)};
        document.getElementById('token-form').requestSubmit();""")
    browser.wait_for("document.getElementById('fleet-devices').textContent === '3'"
                     " && document.getElementById('token-form').hidden", what="numbers with the token")
    assert text(browser, "live").startswith("live")
