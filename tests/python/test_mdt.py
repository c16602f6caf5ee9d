"""Cisco model-driven telemetry from nl6d, received by collectors written here with
grpcio/protobuf against proto/mdt (mdt_collector.py): gRPC dial-out with kvGPB, TCP with
the 12-byte header (kvGPB and JSON), UDP with compact GPB decoded by the .proto nl6d
generates, gRPC dial-in (CreateSubs) on the device's gNMI address, the REST surface, and
failures (a refusing destination, a reset connection)."""

import importlib
import json
import subprocess
import time
import urllib.parse

import pytest

from conftest import TARGET_DIR, call, free_port, wait_for
from mdt_collector import (
    MAX_MESSAGE,
    GrpcDialoutCollector,
    Stubs,
    TcpCollector,
    UdpCollector,
    compile_path_proto,
    kv_rows,
)

GENERIC_COUNTERS = "Cisco-IOS-XR-infra-statsd-oper:infra-statistics/interfaces/interface/latest/generic-counters"
INTERFACE_XR = "Cisco-IOS-XR-pfi-im-cmd-oper:interfaces/interface-xr/interface"
OPENCONFIG = "openconfig-interfaces:interfaces/interface"
PATHS = [GENERIC_COUNTERS, INTERFACE_XR, OPENCONFIG]
INTERFACES = 10  # nl6d's default per device
SUBSCRIPTION = "nl6-mdt"


@pytest.fixture(scope="module")
def stubs(tmp_path_factory):
    return Stubs(tmp_path_factory.mktemp("mdt-stubs"))


@pytest.fixture
def collectors():
    """Every collector a test starts is stopped at teardown."""
    started = []
    yield started
    for c in started:
        c.stop()


def hostnames(api):
    """Host name of every device by address, following `next_cursor`."""
    out, path = {}, "/api/v1/devices"
    while True:
        status, body = call(api, "GET", path)
        assert status == 200, body
        out.update((d["ip"], d["hostname"]) for d in body["data"]["devices"])
        cursor = body["data"].get("next_cursor")
        if cursor is None:
            assert len(out) == body["data"]["total"]
            return out
        path = f"/api/v1/devices?cursor={cursor}"


def mdt_rows(api):
    """`/api/v1/mdt/status` rows by (collector, flavor)."""
    status, body = call(api, "GET", "/api/v1/mdt/status")
    assert status == 200, body
    return {(r["collector"], r["flavor"]): r for r in body["collectors"]}


def start(nl6d, start_ip, count, *flags):
    """nl6d with a start-up batch of `count` devices from start_ip (a /24); the REST URL."""
    api = f"127.0.0.1:{free_port()}"
    nl6d(
        "--auto-start-ip", start_ip, "--auto-count", str(count), "--auto-netmask", "24",
        "--gnmi-port", str(free_port()), "--gnmi-tls=false", "--listen", api,
        *flags,
    )
    return f"http://{api}"


def mdt_flags(destination, protocol, encoding, paths=(GENERIC_COUNTERS,)):
    return (
        "--mdt-subscription", SUBSCRIPTION, "--mdt-destination", destination,
        "--mdt-protocol", protocol, "--mdt-encoding", encoding,
        "--mdt-sample-interval", "1000", "--mdt-sensor-paths", ",".join(paths),
    )


def addresses(prefix, count):
    return [f"{prefix}.{i}" for i in range(1, count + 1)]


def mdt_proto(path):
    """What `nl6d mdt-proto PATH` prints."""
    done = subprocess.run(
        [str(TARGET_DIR / "nl6d"), "mdt-proto", path], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def check_ids_increase(ids, what):
    assert ids, f"{what}: no collections"
    assert all(b > a for a, b in zip(ids, ids[1:])), f"{what}: collection_id not increasing: {ids}"


# 1. gRPC dial-out, self-describing GPB


def test_grpc_dialout_kvgpb_one_stream_per_device_from_its_own_address(nl6d, stubs, collectors):
    collector = GrpcDialoutCollector(stubs)
    collectors.append(collector)
    expected = addresses("127.77.1", 20)
    api = start(nl6d, "127.77.1.1", 20, *mdt_flags(collector.address, "grpc", "self-describing-gpb"))

    # Three collections from every device.
    collector.wait(
        "3 collections from each of 20 devices",
        lambda: {s["ip"] for s in collector.streams if len(s["messages"]) >= 3} == set(expected),
        timeout=30,
    )
    names = hostnames(api)
    assert names == {ip: f"nl6-{ip.replace('.', '-')}" for ip in expected}
    by_ip = collector.by_ip()
    assert set(by_ip) == set(expected), "every stream comes from a device's own address"
    for ip, streams in by_ip.items():
        assert len(streams) == 1, f"{ip}: one stream per device, got {len(streams)}"
        messages = list(streams[0]["messages"])
        decoded = [stubs.decode(m.data) for m in messages]
        for args, t in zip(messages, decoded):
            assert not args.errors
            assert t.node_id_str == names[ip]
            assert t.subscription_id_str == SUBSCRIPTION
            assert t.encoding_path == GENERIC_COUNTERS
            assert t.collection_start_time <= t.msg_timestamp <= t.collection_end_time
            assert t.msg_timestamp > 1_600_000_000_000, "ms since the epoch"
            assert len(t.data_gpbkv) == INTERFACES and not t.data_gpb.row
        check_ids_increase([t.collection_id for t in decoded], ip)

        # Rows: keys {interface-name}, content the generic-counters bag, typed.
        per_collection = []
        for t in decoded:
            rows = {}
            for keys, content, row in kv_rows(t):
                assert set(keys) == {"interface-name"}
                assert row.timestamp > 0
                assert isinstance(content["bytes-received"], int)
                assert content["packets-received"] > 0
                rows[keys["interface-name"]] = content
            assert len(rows) == INTERFACES, "one row per interface"
            per_collection.append(rows)
        first, last = per_collection[0], per_collection[-1]
        assert set(first) == set(last)
        for name in first:
            assert last[name]["bytes-received"] >= first[name]["bytes-received"], (ip, name)
        assert any(last[n]["bytes-received"] > first[n]["bytes-received"] for n in first), (
            f"{ip}: bytes-received increases between collections"
        )

    rows = mdt_rows(api)
    row = rows[(collector.address, "mdt-grpc-self-describing-gpb")]
    assert row["devices_connected"] == 20 and row["updates_sent"] > 0


# 2. TCP dial-out with the header


@pytest.mark.parametrize("encoding", ["self-describing-gpb", "json"])
def test_tcp_dialout_header_and_payload(nl6d, stubs, collectors, encoding):
    collector = TcpCollector()
    collectors.append(collector)
    octet = {"self-describing-gpb": 2, "json": 3}[encoding]
    expected = addresses(f"127.77.{octet}", 5)
    api = start(
        nl6d, f"127.77.{octet}.1", 5,
        *mdt_flags(collector.address, "tcp", encoding, paths=(GENERIC_COUNTERS, INTERFACE_XR)),
        "--hostname", "xr-{n}",
    )
    # Two collections of each path from every device.
    collector.wait(
        "4 messages from each of 5 devices",
        lambda: {s["ip"] for s in collector.streams if len(s["messages"]) >= 4} == set(expected),
        timeout=30,
    )
    assert collector.errors == []
    names = hostnames(api)
    assert names == {ip: f"xr-{i}" for i, ip in enumerate(expected, start=1)}
    by_ip = collector.by_ip()
    assert set(by_ip) == set(expected)
    encap = 2 if encoding == "json" else 1
    for ip, streams in by_ip.items():
        assert len(streams) == 1, f"{ip}: one connection"
        ids = {}
        for (msg_type, got_encap, version, flags, length), payload in list(streams[0]["messages"]):
            assert (msg_type, got_encap, version, flags) == (1, encap, 1, 0)
            assert length == len(payload) <= MAX_MESSAGE
            if encoding == "json":
                doc = json.loads(payload)
                assert doc["node_id_str"] == names[ip]
                assert doc["subscription_id_str"] == SUBSCRIPTION
                path, rows = doc["encoding_path"], doc["data_json"]
                assert len(rows) == INTERFACES
                for row in rows:
                    assert set(row) == {"timestamp", "keys", "content"}
                    assert [list(k) for k in row["keys"]] == [["interface-name"]]
                    if path == GENERIC_COUNTERS:
                        assert row["content"]["packets-received"] > 0
                    else:
                        assert row["content"]["state"] and row["content"]["mtu"] > 0
                ids.setdefault(path, []).append(doc["collection_id"])
            else:
                t = stubs.decode(payload)
                assert t.node_id_str == names[ip] and t.subscription_id_str == SUBSCRIPTION
                assert len(t.data_gpbkv) == INTERFACES
                for keys, content, _ in kv_rows(t):
                    assert set(keys) == {"interface-name"}
                    if t.encoding_path == GENERIC_COUNTERS:
                        assert content["packets-received"] > 0
                    else:
                        assert content["state"] and content["mtu"] > 0
                ids.setdefault(t.encoding_path, []).append(t.collection_id)
        assert set(ids) == {GENERIC_COUNTERS, INTERFACE_XR}, "one collection per sensor path"
        check_ids_increase(sorted(ids[GENERIC_COUNTERS] + ids[INTERFACE_XR]), ip)
        assert not set(ids[GENERIC_COUNTERS]) & set(ids[INTERFACE_XR]), "an id per collection"
    row = mdt_rows(api)[(collector.address, f"mdt-tcp-{encoding}")]
    assert row["devices_connected"] == 5 and row["updates_sent"] > 0 and row["open_failures"] == 0


# 3. UDP dial-out, compact GPB decoded with the generated .proto


def test_udp_compact_gpb_decodes_with_the_generated_proto(nl6d, stubs, collectors, tmp_path):
    modules = {
        path: compile_path_proto(mdt_proto(path), tmp_path / "paths", f"mdt_path_{i}")
        for i, path in enumerate(PATHS)
    }
    messages = {
        GENERIC_COUNTERS: ("ifstatsbag_generic_KEYS", "ifstatsbag_generic"),
        INTERFACE_XR: ("im_cmd_info_KEYS", "im_cmd_info"),
        OPENCONFIG: ("interface_KEYS", "interface"),
    }
    collector = UdpCollector()
    collectors.append(collector)
    expected = addresses("127.77.4", 4)
    api = start(nl6d, "127.77.4.1", 4, *mdt_flags(collector.address, "udp", "gpb", paths=PATHS))

    def decoded(stream):
        """Telemetry messages of one sender, in order."""
        return [stubs.decode(payload) for _h, payload, _n in list(stream["messages"])]

    def rows_by_collection(telemetries):
        out = {}
        for t in telemetries:
            out.setdefault((t.encoding_path, t.collection_id), []).extend(t.data_gpb.row)
        return out

    def enough():
        seen = {}
        for s in collector.streams:
            full = [k for k, rows in rows_by_collection(decoded(s)).items()
                    if k[0] == GENERIC_COUNTERS and len(rows) == INTERFACES]
            seen[s["ip"]] = len(full)
        return set(expected) <= {ip for ip, n in seen.items() if n >= 3}

    collector.wait("3 whole generic-counters collections from each device", enough, timeout=30)
    names = hostnames(api)
    by_ip = collector.by_ip()
    assert set(by_ip) == set(expected), "datagrams come from each device's own address"
    for ip, (stream,) in by_ip.items():
        assert len(stream["ports"]) == 1, f"{ip}: one socket"
        for header, payload, size in list(stream["messages"]):
            assert header == (1, 1, 1, 0, len(payload)), "type 1, encap 1 (GPB), version 1"
            assert size <= 1472, "the default maximum datagram"
        telemetries = decoded(stream)
        for t in telemetries:
            assert t.node_id_str == names[ip] and t.subscription_id_str == SUBSCRIPTION
            assert not t.data_gpbkv and t.data_gpb.row
        collections = rows_by_collection(telemetries)
        assert {path for path, _ in collections} == set(PATHS)
        stamp = {(t.encoding_path, t.collection_id): t.collection_start_time for t in telemetries}
        counters = []
        instants = {}  # (collection instant, interface) → {path: content}
        for (path, cid), rows in sorted(collections.items(), key=lambda kv: kv[0][1]):
            module = modules[path]
            keys_cls, content_cls = (getattr(module, n) for n in messages[path])
            for row in rows:
                keys, content = keys_cls(), content_cls()
                keys.ParseFromString(row.keys)
                content.ParseFromString(row.content)
                name = keys.name if path == OPENCONFIG else keys.interface_name
                instants.setdefault((stamp[(path, cid)], name), {})[path] = content
                if path == GENERIC_COUNTERS:
                    assert keys.interface_name
                    assert content.packets_received > 0 and content.bytes_received > content.packets_received
                    assert content.last_data_time > 1_600_000_000
                    counters.append((cid, keys.interface_name, content.bytes_received))
                elif path == INTERFACE_XR:
                    assert keys.interface_name and content.mtu > 0 and content.state
                else:
                    assert keys.name and content.name == keys.name
                    assert content.state.ifindex > 0 and content.state.oper_status
                    assert content.state.counters.in_octets > 0
        # Counters never go backwards, and grow between the first and last collection.
        series = {}
        for cid, name, value in sorted(counters):
            series.setdefault(name, []).append(value)
        assert len(series) == INTERFACES
        assert all(v == sorted(v) for v in series.values()), series
        assert any(v[-1] > v[0] for v in series.values()), series
        # One instant per sample: generic-counters derive from the OpenConfig counters
        # read at the same instant (crates/nl6-mdt/src/row.rs).
        both = [v for v in instants.values() if GENERIC_COUNTERS in v and OPENCONFIG in v]
        assert len(both) >= 2 * INTERFACES, "both paths collected at the same instants"
        for v in both:
            gc, oc = v[GENERIC_COUNTERS], v[OPENCONFIG].state.counters
            assert gc.bytes_received == oc.in_octets and gc.bytes_sent == oc.out_octets
            assert gc.packets_received == oc.in_unicast_pkts + oc.in_multicast_pkts + oc.in_broadcast_pkts
            assert gc.packets_sent == oc.out_unicast_pkts + oc.out_multicast_pkts + oc.out_broadcast_pkts
            assert gc.multicast_packets_received == oc.in_multicast_pkts
            assert gc.broadcast_packets_sent == oc.out_broadcast_pkts
            assert gc.input_drops == oc.in_discards & 0xFFFFFFFF
            assert gc.input_errors == gc.crc_errors == oc.in_errors & 0xFFFFFFFF
    row = mdt_rows(api)[(collector.address, "mdt-udp-gpb")]
    assert row["devices"] == 4 and row["updates_sent"] > 0


# 4. REST


def test_rest_proto_validation_and_status(nl6d, collectors):
    api = start(nl6d, "127.77.5.1", 0)

    for path in PATHS:
        status, text = call(api, "GET", "/api/v1/mdt/proto?path=" + urllib.parse.quote(path, safe=""))
        assert status == 200 and text == mdt_proto(path), path
    status, body = call(api, "GET", "/api/v1/mdt/proto?path=bogus%3Apath")
    assert status == 400 and "path" in body["message"], body
    status, body = call(api, "GET", "/api/v1/mdt/proto")
    assert status == 400 and "path" in body["message"], body

    tcp, udp = TcpCollector(), UdpCollector()
    collectors.extend([tcp, udp])

    def block(**change):
        destination = {"address": "127.0.0.1", "port": tcp.port, "protocol": "tcp",
                       "encoding": "self-describing-gpb", **change}
        return {
            "sensor_groups": {"IFC": [GENERIC_COUNTERS]},
            "destination_groups": {
                "COL": [destination],
                "UDP": [{"address": "127.0.0.1", "port": udp.port, "protocol": "udp", "encoding": "gpb"}],
            },
            "subscriptions": {"SUB1": {"sensor_groups": ["IFC"], "sample_interval": 1000,
                                       "destination_groups": ["COL", "UDP"]}},
        }

    def total():
        status, body = call(api, "GET", "/api/v1/devices")
        assert status == 200, body
        return body["data"]["total"]

    before = total()
    bad = [
        (block(protocol="quic"), "mdt.destination_groups.COL[0].protocol"),
        (block(encoding="xml"), "mdt.destination_groups.COL[0].encoding"),
        (block(colour="red"), "colour"),
        ({**block(), "sensor_group": {}}, "sensor_group"),
    ]
    for mdt, field in bad:
        status, body = call(api, "POST", "/api/v1/devices",
                            {"start_ip": "127.77.5.1", "device_count": 3, "mdt": mdt})
        assert status == 400 and body["success"] is False and field in body["message"], (field, body)
    assert total() == before == 0, "a rejected batch creates nothing"
    assert mdt_rows(api) == {}

    status, body = call(api, "POST", "/api/v1/devices",
                        {"start_ip": "127.77.5.1", "device_count": 3, "mdt": block()})
    assert status == 201 and body["data"]["created"] == 3, body
    expected = addresses("127.77.5", 3)
    for c in (tcp, udp):
        c.wait("messages from 3 devices",
               lambda c=c: {s["ip"] for s in c.streams if s["messages"]} == set(expected), timeout=30)
    tcp_key, udp_key = (tcp.address, "mdt-tcp-self-describing-gpb"), (udp.address, "mdt-udp-gpb")

    def counted():
        rows = mdt_rows(api)
        return all(k in rows and rows[k]["devices_connected"] == 3 and rows[k]["updates_sent"] > 0
                   for k in (tcp_key, udp_key))

    wait_for("status rows with 3 devices connected and updates sent", counted, timeout=10)
    rows = mdt_rows(api)
    assert set(rows) == {tcp_key, udp_key}
    for row in rows.values():
        assert row["devices"] == 3 and row["open_failures"] == 0 and row["send_failures"] == 0


# 5. Failures visible


@pytest.mark.parametrize("protocol", ["tcp", "grpc"])
def test_refusing_destination_counts_open_failures(nl6d, protocol):
    port = free_port()  # nobody listens here
    destination = f"127.0.0.1:{port}"
    octet = {"tcp": 6, "grpc": 8}[protocol]
    api = start(nl6d, f"127.77.{octet}.1", 2, *mdt_flags(destination, protocol, "self-describing-gpb"))
    key = (destination, f"mdt-{protocol}-self-describing-gpb")
    wait_for("open_failures >= 2", lambda: mdt_rows(api).get(key, {}).get("open_failures", 0) >= 2, timeout=15)
    row = mdt_rows(api)[key]
    assert row["devices"] == 2 and row["devices_connected"] == 0 and row["updates_sent"] == 0
    assert row["reconnects"] == 0, "a failed open is not a reconnect"
    assert "refused" in row["last_error"].lower(), row


def test_grpc_dialout_over_tls_with_a_ca_bundle(nl6d, stubs, collectors, tmp_path):
    from test_grpcio_collector import self_signed

    cert, key, ca = self_signed(tmp_path)
    collector = GrpcDialoutCollector(stubs, tls=(cert, key))
    collectors.append(collector)
    api = start(nl6d, "127.77.13.1", 1)
    tls = {"enabled": True, "ca_pem": ca.read_text()}
    status, body = call(api, "POST", "/api/v1/devices", {
        "start_ip": "127.77.14.1", "device_count": 2,
        "mdt": {
            "sensor_groups": {"IFC": [GENERIC_COUNTERS]},
            "destination_groups": {"COL": [{"address": "localhost", "port": collector.port,
                                            "protocol": "grpc", "encoding": "gpb", "tls": tls}]},
            "subscriptions": {"S": {"sensor_groups": ["IFC"], "sample_interval": 1000,
                                    "destination_groups": ["COL"]}},
        },
    })
    assert status == 201, body
    collector.wait("two TLS streams with messages",
                   lambda: sum(1 for s in collector.streams if s["messages"]) == 2, timeout=30)
    assert {s["ip"] for s in collector.streams} == set(addresses("127.77.14", 2))
    first = stubs.decode(collector.streams[0]["messages"][0].data)
    assert first.subscription_id_str == "S" and len(first.data_gpb.row) == INTERFACES
    # TLS on UDP or TCP is refused, naming the field.
    udp_tls = {"address": "127.0.0.1", "port": 1, "protocol": "udp", "encoding": "gpb", "tls": tls}
    status, body = call(api, "POST", "/api/v1/devices", {
        "start_ip": "127.77.15.1",
        "mdt": {"sensor_groups": {"IFC": [GENERIC_COUNTERS]},
                "destination_groups": {"U": [udp_tls]},
                "subscriptions": {"S": {"sensor_groups": ["IFC"], "sample_interval": 1000,
                                        "destination_groups": ["U"]}}},
    })
    assert status == 400 and "mdt.destination_groups.U[0].tls" in body["message"], body


def test_rows_too_large_for_a_datagram_are_counted_and_others_flow(nl6d, collectors):
    # A 256-byte datagram holds no self-describing row of interface-xr: every row is
    # dropped and counted, while the TCP destination of the same devices is unaffected.
    tcp, udp = TcpCollector(), UdpCollector()
    collectors.extend([tcp, udp])
    api = start(nl6d, "127.77.11.1", 1)
    status, body = call(api, "POST", "/api/v1/devices", {
        "start_ip": "127.77.12.1", "device_count": 2,
        "mdt": {
            "sensor_groups": {"XR": [INTERFACE_XR]},
            "destination_groups": {
                "TINY": [{"address": "127.0.0.1", "port": udp.port, "protocol": "udp",
                          "encoding": "self-describing-gpb", "max_datagram": 256}],
                "TCP": [{"address": "127.0.0.1", "port": tcp.port, "protocol": "tcp",
                         "encoding": "self-describing-gpb"}],
            },
            "subscriptions": {"S": {"sensor_groups": ["XR"], "sample_interval": 1000,
                                    "destination_groups": ["TINY", "TCP"]}},
        },
    })
    assert status == 201, body

    def encoded():
        return call(api, "GET", "/api/v1/mdt/status")[1]["encoded"]

    wait_for("rows dropped", lambda: encoded()["rows_dropped"] >= 2 * INTERFACES, timeout=20)
    tcp.wait("both devices over TCP", lambda: len(tcp.by_ip()) == 2, timeout=20)
    assert not udp.streams, "no datagram can carry a row"
    rows = mdt_rows(api)
    assert rows[(tcp.address, "mdt-tcp-self-describing-gpb")]["updates_sent"] > 0, rows


def test_udp_keeps_sending_while_the_collector_is_down(nl6d, collectors):
    # Nobody listens: loopback answers ICMP port unreachable, which a connected UDP
    # socket reports on a later send. A router keeps sending; so must nl6.
    port = free_port()
    destination = f"127.0.0.1:{port}"
    api = start(nl6d, "127.77.10.1", 2, *mdt_flags(destination, "udp", "gpb"))
    key = (destination, "mdt-udp-gpb")
    wait_for(
        "3 collections per device sent",
        lambda: mdt_rows(api).get(key, {}).get("updates_sent", 0) >= 3 * 2 * INTERFACES,
        timeout=20,
    )
    row = mdt_rows(api)[key]
    assert row["devices_connected"] == 2, row
    assert row["send_failures"] == 0 and row["reconnects"] == 0, row
    # The collector comes up: datagrams of both devices arrive within two intervals.
    collector = UdpCollector(port)
    collectors.append(collector)
    collector.wait("both devices", lambda: len(collector.by_ip()) == 2, timeout=10)


def test_tcp_reset_mid_message_reconnects_that_device_only(nl6d, stubs, collectors):
    victim = "127.77.7.2"
    collector = TcpCollector(reset_after={victim: 2})
    collectors.append(collector)
    expected = addresses("127.77.7", 4)
    api = start(nl6d, "127.77.7.1", 4, *mdt_flags(collector.address, "tcp", "self-describing-gpb"))
    key = (collector.address, "mdt-tcp-self-describing-gpb")

    collector.wait(
        "the reset device back on a second connection with 2 messages",
        lambda: len([s for s in collector.streams if s["ip"] == victim]) >= 2
        and len([s for s in collector.streams if s["ip"] == victim][1]["messages"]) >= 2,
        timeout=30,
    )
    wait_for("reconnects >= 1", lambda: mdt_rows(api)[key]["reconnects"] >= 1, timeout=10)
    # The others keep streaming on their first connection meanwhile.
    counts = {ip: len(s[0]["messages"]) for ip, s in collector.by_ip().items() if ip != victim}
    collector.wait(
        "two more messages from every other device",
        lambda: all(len(collector.by_ip()[ip][0]["messages"]) >= n + 2 for ip, n in counts.items()),
        timeout=15,
    )
    by_ip = collector.by_ip()
    assert set(by_ip) == set(expected)
    first, second = by_ip[victim][0], by_ip[victim][1]
    assert first["end"] == "reset by collector" and len(first["messages"]) == 2
    for ip in expected:
        if ip == victim:
            continue
        assert len(by_ip[ip]) == 1 and "end" not in by_ip[ip][0], f"{ip} unaffected"
        ids = [stubs.decode(p).collection_id for _h, p in list(by_ip[ip][0]["messages"])]
        assert ids == list(range(ids[0], ids[0] + len(ids))), f"{ip}: no collection lost: {ids}"
    again = [stubs.decode(p) for _h, p in list(second["messages"])]
    assert all(len(t.data_gpbkv) == INTERFACES for t in again), "whole messages after the reset"
    check_ids_increase([t.collection_id for t in again], victim)
    assert collector.errors == []
    row = mdt_rows(api)[key]
    assert row["reconnects"] >= 1 and row["devices_connected"] == 4


# Event-driven subscriptions (sample interval 0)


def start_event_driven(nl6d, collectors, octet, paths):
    collector = TcpCollector()
    collectors.append(collector)
    device = f"127.77.{octet}.1"
    api = start(
        nl6d, device, 1,
        "--mdt-subscription", SUBSCRIPTION, "--mdt-destination", collector.address,
        "--mdt-protocol", "tcp", "--mdt-encoding", "json",
        "--mdt-sample-interval", "0", "--mdt-sensor-paths", ",".join(paths),
    )
    return api, collector, device


def documents(collector):
    return [json.loads(p) for s in list(collector.streams) for _h, p in list(s["messages"])]


def test_event_driven_sends_a_full_collection_then_the_changed_interface(nl6d, collectors):
    api, collector, device = start_event_driven(nl6d, collectors, 9, [INTERFACE_XR, OPENCONFIG])
    collector.wait("a full collection of both paths", lambda: len(documents(collector)) >= 2, timeout=20)
    full = documents(collector)
    assert {d["encoding_path"] for d in full} == {INTERFACE_XR, OPENCONFIG}
    assert all(len(d["data_json"]) == INTERFACES for d in full)
    xr = next(d for d in full if d["encoding_path"] == INTERFACE_XR)
    assert {r["content"]["state"] for r in xr["data_json"]} == {"im-state-up"}

    status, body = call(api, "POST", f"/api/v1/devices/{device}/interfaces/3/oper-status", {"status": "DOWN"})
    assert status == 202 and body["oper_status"] == "DOWN", body
    collector.wait("one event collection per path with state",
                   lambda: len(documents(collector)) >= len(full) + 2, timeout=10)
    events = documents(collector)[len(full):]
    assert {d["encoding_path"] for d in events} == {INTERFACE_XR, OPENCONFIG}
    check_ids_increase([d["collection_id"] for d in full + events], device)
    for d in events:
        (row,) = d["data_json"]
        name = row["keys"][0].get("interface-name") or row["keys"][0].get("name")
        assert name == "Ethernet3", "only the changed interface"
        if d["encoding_path"] == INTERFACE_XR:
            assert row["content"]["state"] == "im-state-down"
        else:
            assert row["content"]["state"]["oper-status"] == "DOWN"
            assert "counters" not in row["content"]["state"], "counters never change with state"


def test_event_driven_full_collection_carries_the_counters(nl6d, collectors):
    api, collector, _device = start_event_driven(nl6d, collectors, 10, [OPENCONFIG])
    collector.wait("the full collection", lambda: documents(collector), timeout=20)
    (full,) = documents(collector)[:1]
    assert len(full["data_json"]) == INTERFACES
    for row in full["data_json"]:
        counters = row["content"]["state"]["counters"]
        # The device's counters (nonzero at nl6's default uptime, as a sampled
        # subscription of the same device shows), not the zeros of an unread snapshot.
        assert counters["in-octets"] > 0, row


def create_subs(stubs, address, port, subscription, encode, metadata=(), timeout=20):
    """Opens CreateSubs on address:port and returns the reply iterator and the channel."""
    import grpc

    dialin = importlib.import_module("mdt_grpc_dialin_pb2")
    dialin_grpc = importlib.import_module("mdt_grpc_dialin_pb2_grpc")
    channel = grpc.insecure_channel(f"{address}:{port}")
    stub = dialin_grpc.gRPCConfigOperStub(channel)
    args = dialin.CreateSubsArgs(ReqId=7, encode=encode, subidstr=subscription)
    return stub.CreateSubs(args, metadata=list(metadata), timeout=timeout), channel


def test_grpc_dialin_create_subs_streams_each_encoding_from_the_device(nl6d, stubs):
    gnmi_port = free_port()
    api = f"127.0.0.1:{free_port()}"
    nl6d(
        "--auto-start-ip", "127.77.9.1", "--auto-count", "2", "--auto-netmask", "24",
        "--gnmi-port", str(gnmi_port), "--gnmi-tls=false", "--listen", api,
        "--gnmi-username", "admin", "--gnmi-password", "s3cret",
        "--interface-naming", "xr",
        "--mdt-subscription", SUBSCRIPTION, "--mdt-sample-interval", "1000",
        "--mdt-sensor-paths", ",".join([GENERIC_COUNTERS, INTERFACE_XR]),
    )
    names = hostnames(f"http://{api}")
    credentials = (("username", "admin"), ("password", "s3cret"))
    for address in ["127.77.9.1", "127.77.9.2"]:
        for encode in (2, 3, 4):
            replies, channel = create_subs(
                stubs, address, gnmi_port, SUBSCRIPTION, encode, credentials
            )
            seen = []
            for reply in replies:
                assert reply.ResReqId == 7 and not reply.errors, reply
                if encode == 4:
                    doc = json.loads(reply.data)
                    node, path, cid = doc["node_id_str"], doc["encoding_path"], doc["collection_id"]
                    keys = [row["keys"][0]["interface-name"] for row in doc["data_json"]]
                else:
                    t = stubs.decode(reply.data)
                    node, path, cid = t.node_id_str, t.encoding_path, t.collection_id
                    if encode == 3:
                        keys = [k["interface-name"] for k, _, _ in kv_rows(t)]
                    else:
                        keys = [len(r.keys) > 0 for r in t.data_gpb.row]
                assert node == names[address], (node, address)
                seen.append((path, cid, keys))
                if len(seen) == 4:
                    break
            channel.close()
            assert [p for p, _, _ in seen] == [GENERIC_COUNTERS, INTERFACE_XR] * 2
            check_ids_increase([c for _, c, _ in seen], f"{address} encode {encode}")
            if encode != 2:
                assert seen[0][2][:2] == ["HundredGigE0/0/0/0", "HundredGigE0/0/0/1"], seen[0]
            else:
                assert all(seen[0][2]) and len(seen[0][2]) == INTERFACES

    # An unknown subscription is answered with errors naming it, then the stream ends.
    replies, channel = create_subs(stubs, "127.77.9.1", gnmi_port, "NOPE", 3, credentials)
    answers = list(replies)
    channel.close()
    assert len(answers) == 1 and "NOPE" in answers[0].errors and SUBSCRIPTION in answers[0].errors
    # Wrong credentials: refused as gNMI refuses them.
    import grpc

    replies, channel = create_subs(
        stubs, "127.77.9.1", gnmi_port, SUBSCRIPTION, 3, (("username", "admin"), ("password", "x"))
    )
    with pytest.raises(grpc.RpcError) as refused:
        next(replies)
    channel.close()
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    status = call(f"http://{api}", "GET", "/api/v1/mdt/status")[1]
    assert status["dialin"]["subscriptions_opened"] >= 6, status
    assert status["dialin"]["subscriptions_refused"] >= 1, status
