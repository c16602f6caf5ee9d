"""The Junos notification shape seen by gNMI clients nobody here wrote (pygnmi and its
grpcio stubs): a `juniper-mx` device sends one notification per list entry, with the entry
as the prefix and paths relative to it, and Juniper's telemetry header as a registered
extension (id 1) on every SubscribeResponse; a `generic` device keeps absolute paths."""

import importlib
import sys
import time

import grpc
import pytest
from grpc_tools import protoc
from pygnmi.client import gNMIclient
from pygnmi.create_gnmi_path import gnmi_path_generator
from pygnmi.spec.v080 import gnmi_pb2, gnmi_pb2_grpc

from conftest import ROOT, Daemon, call, free_port

# Every address of this file is in 127.85.0.0/16.
MX = "127.85.1.1"
GENERIC = "127.85.2.1"
INTERFACES = 3
DEADLINE = 20.0
EID_JUNIPER_TELEMETRY_HEADER = 1


@pytest.fixture(scope="module")
def fleet():
    """One nl6d (plaintext dial-in, REST) with a juniper-mx and a generic device."""
    rest, gnmi = free_port(), free_port()
    daemon = Daemon(
        ["--auto-count", "0", "--gnmi-port", str(gnmi), "--gnmi-tls=false", "--listen", f"127.0.0.1:{rest}"]
    )
    api = f"http://127.0.0.1:{rest}"
    try:
        for ip, device_type in ((MX, "juniper-mx"), (GENERIC, "generic")):
            body = {"start_ip": ip, "device_count": 1, "interfaces": INTERFACES, "device_type": device_type}
            status, reply = call(api, "POST", "/api/v1/devices", body)
            assert status == 201, reply
        yield gnmi
    finally:
        code = daemon.stop()
    assert code == 0, "nl6d did not exit 0 on SIGTERM:\n" + "\n".join(daemon.lines)


@pytest.fixture(scope="module")
def header_type(tmp_path_factory):
    """Juniper's header message, compiled from the workspace's proto with grpcio-tools."""
    out = tmp_path_factory.mktemp("juniper_stubs")
    proto_dir = ROOT / "proto" / "juniper"
    code = protoc.main(
        ["grpc_tools.protoc", f"-I{proto_dir}", f"--python_out={out}", str(proto_dir / "gnmi_juniper_header_ext.proto")]
    )
    assert code == 0, f"protoc failed with {code}"
    sys.path.insert(0, str(out))
    try:
        return importlib.import_module("gnmi_juniper_header_ext_pb2").GnmiJuniperTelemetryHeaderExtension
    finally:
        sys.path.remove(str(out))


def path_text(path):
    return "/" + "/".join(e.name + "".join(f"[{k}={v}]" for k, v in sorted(e.key.items())) for e in path.elem)


def subscribe_once(ip, port, path, mode="SAMPLE"):
    """Every SubscribeResponse of a ONCE subscription of `path` up to sync_response, raw."""
    request = gnmi_pb2.SubscribeRequest(
        subscribe=gnmi_pb2.SubscriptionList(
            subscription=[
                gnmi_pb2.Subscription(path=gnmi_path_generator(path), mode=gnmi_pb2.SubscriptionMode.Value(mode))
            ],
            mode=gnmi_pb2.SubscriptionList.Mode.Value("ONCE"),
            encoding=gnmi_pb2.Encoding.Value("PROTO"),
        )
    )
    responses = []
    with grpc.insecure_channel(f"{ip}:{port}") as channel:
        for response in gnmi_pb2_grpc.gNMIStub(channel).Subscribe(iter([request]), timeout=DEADLINE):
            if response.sync_response:
                return responses
            responses.append(response)
    raise AssertionError(f"no sync_response after {len(responses)} responses")


def header_of(response, header_type):
    assert len(response.extension) == 1, response.extension
    registered = response.extension[0].registered_ext
    assert registered.id == EID_JUNIPER_TELEMETRY_HEADER
    header = header_type()
    header.ParseFromString(registered.msg)
    return header


def test_junos_subscribe_sends_one_notification_per_interface_with_the_header(fleet, header_type):
    responses = subscribe_once(MX, fleet, "/interfaces/interface/state/counters")
    assert [path_text(r.update.prefix) for r in responses] == [
        f"/interfaces/interface[name=et-0/0/{i}]" for i in range(INTERFACES)
    ]
    for i, response in enumerate(responses):
        n = response.update
        assert len(n.update) == 12
        assert path_text(n.update[0].path) == "/state/counters/in-octets"
        header = header_of(response, header_type)
        assert header.system_id == MX
        assert header.component_id == 65535
        assert header.component == "mib2d"
        assert header.streamed_path == "/interfaces/interface/"
        assert header.sequence_number == i
        assert header.eom == (i == INTERFACES - 1)
        assert header.payload_get_timestamp == n.timestamp // 1_000_000
        assert abs(header.export_timestamp - time.time() * 1000) < 60_000


def test_junos_components_and_system_are_entries_too(fleet, header_type):
    responses = subscribe_once(MX, fleet, "/components/component[name=Chassis]/state/serial-no")
    assert [path_text(r.update.prefix) for r in responses] == ["/components/component[name=Chassis]"]
    assert path_text(responses[0].update.update[0].path) == "/state/serial-no"
    assert header_of(responses[0], header_type).component == "chassisd"
    responses = subscribe_once(MX, fleet, "/system/memory/state")
    assert [path_text(r.update.prefix) for r in responses] == ["/system/memory/state"]
    assert {path_text(u.path) for u in responses[0].update.update} == {"/physical", "/used", "/free"}


def test_pygnmi_get_of_a_junos_device_has_the_entry_as_prefix(fleet):
    with gNMIclient(target=(MX, fleet), insecure=True) as gc:
        result = gc.get(path=["/interfaces/interface/state/oper-status"], encoding="json_ietf")
    got = [(n["prefix"], [(u["path"], u["val"]) for u in n["update"]]) for n in result["notification"]]
    assert got == [
        (f"interfaces/interface[name=et-0/0/{i}]", [("state/oper-status", "openconfig-interfaces:UP")])
        for i in range(INTERFACES)
    ]


def test_a_generic_device_keeps_absolute_paths_and_no_extension(fleet):
    responses = subscribe_once(GENERIC, fleet, "/interfaces/interface/state/oper-status")
    assert len(responses) == 1
    assert not responses[0].extension
    n = responses[0].update
    assert not n.prefix.elem
    assert [path_text(u.path) for u in n.update] == [
        f"/interfaces/interface[name=Ethernet{i}]/state/oper-status" for i in range(1, INTERFACES + 1)
    ]
