"""Device profiles seen by pygnmi (a gNMI client nobody here wrote): every built-in profile's
models, components, system and interface names, served by one nl6d whose batches name a
`device_type` over REST; and profile files loaded with `--profile-dir`."""

import re
import subprocess
import time
from dataclasses import dataclass

import grpc
import pytest
from pygnmi.client import gNMIclient
from pygnmi.create_gnmi_path import gnmi_path_generator
from pygnmi.spec.v080 import gnmi_pb2, gnmi_pb2_grpc

from conftest import TARGET_DIR, Daemon, call, free_port, updates

# Every address of this file is in 127.84.0.0/16: 127.84.<profile>.1-2 for the shared fleet,
# 127.84.50-59.x for daemons of their own, 127.84.60.x for a batch that must not be created.
INTERFACES = 10
DEADLINE = 20.0

IFACE_MODEL = "openconfig-interfaces"
LLDP_MODEL = "openconfig-lldp"
BGP_MODEL = "openconfig-network-instance"
PLATFORM_MODELS = {"openconfig-platform", "openconfig-platform-transceiver", "openconfig-system"}


@dataclass(frozen=True)
class Profile:
    name: str
    first_interface: str
    manufacturer: str = ""
    chassis_part: str = ""
    linecards: int = 0
    fans: int = 0
    power_supplies: int = 0
    cpus: int = 0
    memory_gib: int = 0

    @property
    def has_platform(self):
        return bool(self.manufacturer)

    @property
    def serves_lldp(self):
        return self.name != "generic"

    def models(self):
        vendor = {LLDP_MODEL, BGP_MODEL} if self.serves_lldp else set()
        return {IFACE_MODEL} | (PLATFORM_MODELS if self.has_platform else set()) | vendor

    def hot_components(self):
        """The components with a temperature sensor: every one but the fans."""
        return (
            {"Chassis", "CPU0"}
            | {f"Linecard{i}" for i in range(1, self.linecards + 1)}
            | {f"PowerSupply{i}" for i in range(1, self.power_supplies + 1)}
            | {f"Transceiver{i}" for i in range(1, INTERFACES + 1)}
        )


PROFILES = [
    Profile("generic", "Ethernet1"),
    Profile("arista-eos", "Ethernet1", "Arista Networks", "DCS-7280CR3-32P4", 0, 5, 2, 8, 32),
    Profile("cisco-xr", "HundredGigE0/0/0/0", "Cisco Systems, Inc.", "8808", 4, 8, 4, 16, 64),
    Profile("juniper-mx", "et-0/0/0", "Juniper Networks", "MX10004", 4, 6, 6, 16, 128),
    Profile("nokia-sros", "1/1/c1/1", "Nokia", "7750-SR-7s", 6, 3, 4, 8, 64),
    Profile("sonic", "Ethernet0", "Celestica", "DX010", 0, 5, 2, 4, 16),
]
PLATFORM = [p for p in PROFILES if p.has_platform]


def ids(profiles):
    return [p.name for p in profiles]


def devices_of(profile):
    """The two devices of `profile` in the shared fleet."""
    block = PROFILES.index(profile) + 1
    return [f"127.84.{block}.1", f"127.84.{block}.2"]


@dataclass
class Fleet:
    api: str
    port: int
    daemon: Daemon


@pytest.fixture(scope="module")
def fleet():
    """One nl6d (plaintext dial-in, REST) with a batch of two devices per built-in profile."""
    rest, gnmi = free_port(), free_port()
    daemon = Daemon(
        ["--auto-count", "0", "--gnmi-port", str(gnmi), "--gnmi-tls=false", "--listen", f"127.0.0.1:{rest}"]
    )
    api = f"http://127.0.0.1:{rest}"
    try:
        for profile in PROFILES:
            first = devices_of(profile)[0]
            body = {"start_ip": first, "device_count": 2, "interfaces": INTERFACES, "device_type": profile.name}
            status, reply = call(api, "POST", "/api/v1/devices", body)
            assert status == 201, reply
        yield Fleet(api, gnmi, daemon)
    finally:
        code = daemon.stop()
    assert code == 0, "nl6d did not exit 0 on SIGTERM:\n" + "\n".join(daemon.lines)


def client(ip, port):
    return gNMIclient(target=(ip, port), insecure=True)


def grpc_code(exc):
    """The gRPC status code behind a pygnmi exception (pygnmi wraps grpc.RpcError)."""
    orig = exc
    while orig is not None and not isinstance(orig, grpc.RpcError):
        orig = getattr(orig, "orig_exc", None) or orig.__cause__ or orig.__context__
    assert orig is not None, f"no grpc.RpcError behind {exc!r}"
    return orig.code()


def joined(prefix, path):
    """The absolute path of an update (pygnmi prints paths without the leading '/'): a
    Junos-shaped device sends its list entry as the prefix and paths relative to it."""
    return f"{prefix}/{path}" if prefix else path




def get(ip, port, path, encoding):
    with client(ip, port) as gc:
        return updates(gc.get(path=[path], encoding=encoding))


def path_text(path):
    return "/".join(e.name + "".join(f"[{k}={v}]" for k, v in sorted(e.key.items())) for e in path.elem)


def raw_get(ip, port, path):
    """{path: TypedValue} of a PROTO Get through pygnmi's generated gNMI stub (pygnmi's own
    decoder leaves out `double_val`, so the typed values are read here)."""
    request = gnmi_pb2.GetRequest(path=[gnmi_path_generator(path)], encoding=gnmi_pb2.Encoding.Value("PROTO"))
    with grpc.insecure_channel(f"{ip}:{port}") as channel:
        reply = gnmi_pb2_grpc.gNMIStub(channel).Get(request, timeout=DEADLINE)
    return {joined(path_text(n.prefix), path_text(u.path)): u.val for n in reply.notification for u in n.update}


def stream_error(sub, timeout=DEADLINE):
    """The grpc.RpcError a pygnmi stream subscription ended with, waiting up to `timeout`."""
    sub._subscribe_thread.join(timeout)
    assert not sub._subscribe_thread.is_alive(), f"the subscription still runs after {timeout}s"
    assert isinstance(sub.error, grpc.RpcError), repr(sub.error)
    return sub.error


# --- Capabilities ---------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES, ids=ids(PROFILES))
def test_capabilities_list_exactly_the_profiles_models(fleet, profile):
    with client(devices_of(profile)[0], fleet.port) as gc:
        caps = gc.capabilities()
    names = [m["name"] for m in caps["supported_models"]]
    assert sorted(names) == sorted(profile.models()), names
    assert all(m["organization"] and m["version"] for m in caps["supported_models"]), caps
    assert {"json_ietf", "proto"} <= set(caps["supported_encodings"])


# --- Get -------------------------------------------------------------------------------------

CHASSIS = "/components/component[name=Chassis]/state"
CPU0 = "/system/cpus/cpu[index=0]/state/total"
MEMORY = "/system/memory/state"
TEMPERATURE = re.compile(r"^-?\d+\.\d$")


def chassis_leaf(leaf):
    return f"components/component[name=Chassis]/state/{leaf}"


@pytest.mark.parametrize("profile", PLATFORM, ids=ids(PLATFORM))
def test_get_chassis_cpu_memory_and_interface_in_json_ietf(fleet, profile):
    ip = devices_of(profile)[0]
    chassis = get(ip, fleet.port, CHASSIS, "json_ietf")
    assert chassis[chassis_leaf("name")] == "Chassis"
    assert chassis[chassis_leaf("type")] == "openconfig-platform-types:CHASSIS"
    assert chassis[chassis_leaf("oper-status")] == "openconfig-platform-types:ACTIVE"
    assert chassis[chassis_leaf("mfg-name")] == profile.manufacturer
    assert chassis[chassis_leaf("part-no")] == profile.chassis_part
    assert re.fullmatch(r"NL6[0-9A-F]{9}", chassis[chassis_leaf("serial-no")]), chassis
    assert chassis[chassis_leaf("temperature/alarm-status")] is False
    temps = {k: chassis[chassis_leaf(f"temperature/{k}")] for k in ("instant", "avg", "min", "max")}
    # decimal64 is a JSON string in JSON_IETF (RFC 7951), with the type's one fraction digit.
    assert all(isinstance(t, str) and TEMPERATURE.match(t) for t in temps.values()), temps
    t = {k: float(v) for k, v in temps.items()}
    assert t["min"] <= t["instant"] <= t["max"] and t["min"] <= t["avg"] <= t["max"], t
    assert 28.5 <= t["min"] and t["max"] <= 46.5, t

    cpu = get(ip, fleet.port, CPU0, "json_ietf")
    u = {k: cpu[f"system/cpus/cpu[index=0]/state/total/{k}"] for k in ("instant", "avg", "min", "max")}
    assert all(isinstance(v, int) for v in u.values()), u
    assert 0 <= u["min"] <= u["instant"] <= u["max"] <= 100 and u["min"] <= u["avg"] <= u["max"], u

    memory = get(ip, fleet.port, MEMORY, "json_ietf")
    physical, used, free = (memory[f"system/memory/state/{k}"] for k in ("physical", "used", "free"))
    # uint64 is a JSON string in JSON_IETF.
    assert all(isinstance(v, str) for v in (physical, used, free)), memory
    assert int(physical) == profile.memory_gib << 30
    assert int(used) + int(free) == int(physical) and int(used) > 0

    state = f"/interfaces/interface[name={profile.first_interface}]/state"
    iface = get(ip, fleet.port, state + "/ifindex", "json_ietf")
    assert iface == {f"interfaces/interface[name={profile.first_interface}]/state/ifindex": 1}


@pytest.mark.parametrize("profile", PLATFORM, ids=ids(PLATFORM))
def test_get_chassis_cpu_memory_and_interface_in_proto(fleet, profile):
    ip = devices_of(profile)[0]
    chassis = get(ip, fleet.port, CHASSIS, "proto")
    assert chassis[chassis_leaf("mfg-name")] == profile.manufacturer
    assert chassis[chassis_leaf("part-no")] == profile.chassis_part
    assert chassis[chassis_leaf("temperature/alarm-status")] is False
    cpu = get(ip, fleet.port, CPU0, "proto")
    assert 0 <= cpu["system/cpus/cpu[index=0]/state/total/instant"] <= 100, cpu
    memory = get(ip, fleet.port, MEMORY, "proto")
    assert memory["system/memory/state/physical"] == profile.memory_gib << 30, memory
    iface = get(ip, fleet.port, f"/interfaces/interface[name={profile.first_interface}]/state/ifindex", "proto")
    assert list(iface.values()) == [1]

    # The typed values: decimal64 as double_val (gNMI 0.10), integers as uint_val.
    typed = raw_get(ip, fleet.port, CHASSIS)
    kinds = {p.rsplit("state/", 1)[1]: v.WhichOneof("value") for p, v in typed.items()}
    for leaf in ("instant", "avg", "min", "max"):
        assert kinds[f"temperature/{leaf}"] == "double_val", kinds
    assert kinds["serial-no"] == "string_val" and kinds["temperature/alarm-status"] == "bool_val", kinds
    temps = {p.rsplit("/", 1)[1]: v.double_val for p, v in typed.items() if "/temperature/" in p and "alarm" not in p}
    assert temps["min"] <= temps["instant"] <= temps["max"], temps
    memory = raw_get(ip, fleet.port, MEMORY)
    assert {v.WhichOneof("value") for v in memory.values()} == {"uint_val"}
    assert memory["system/memory/state/physical"].uint_val == profile.memory_gib << 30
    cpu = raw_get(ip, fleet.port, CPU0)
    assert {v.WhichOneof("value") for v in cpu.values()} == {"uint_val"}


@pytest.mark.parametrize("profile", PLATFORM, ids=ids(PLATFORM))
def test_the_inventory_decides_the_entries(fleet, profile):
    ip = devices_of(profile)[0]
    names = {
        re.match(r"components/component\[name=([^\]]+)\]", p).group(1)
        for p in get(ip, fleet.port, "/components/component/state/name", "json_ietf")
    }
    fans = {f"Fan{i}" for i in range(1, profile.fans + 1)}
    assert names == profile.hot_components() | fans
    last_cpu = f"/system/cpus/cpu[index={profile.cpus - 1}]/state/index"
    assert list(get(ip, fleet.port, last_cpu, "json_ietf").values()) == [profile.cpus - 1]
    with client(ip, fleet.port) as gc:
        with pytest.raises(Exception) as err:
            gc.get(path=[f"/system/cpus/cpu[index={profile.cpus}]/state"], encoding="json_ietf")
    assert grpc_code(err.value) == grpc.StatusCode.NOT_FOUND


def test_generic_serves_interfaces_only(fleet):
    generic = PROFILES[0]
    ip = devices_of(generic)[0]
    for encoding in ("json_ietf", "proto"):
        leaf = get(ip, fleet.port, "/interfaces/interface[name=Ethernet1]/state/ifindex", encoding)
        assert list(leaf.values()) == [1]
    for path in ("/components", CHASSIS, MEMORY):
        with client(ip, fleet.port) as gc:
            with pytest.raises(Exception) as err:
                gc.get(path=[path], encoding="json_ietf")
        assert grpc_code(err.value) == grpc.StatusCode.NOT_FOUND, path


@pytest.mark.parametrize("profile", PLATFORM, ids=ids(PLATFORM))
def test_serial_numbers_differ_between_devices(fleet, profile):
    serials = []
    for ip in devices_of(profile):
        values = get(ip, fleet.port, "/components/component/state/serial-no", "json_ietf")
        shared = {s for s in values.values() if list(values.values()).count(s) > 1}
        assert not shared, f"components of {ip} share serials: {[p for p, s in values.items() if s in shared]}"
        serials.append(values)
    first, second = serials
    assert first.keys() == second.keys()
    assert all(first[k] != second[k] for k in first), (first, second)
    # The same device answers the same serials again.
    assert get(devices_of(profile)[0], fleet.port, "/components/component/state/serial-no", "json_ietf") == first


# --- Subscribe -------------------------------------------------------------------------------

COMPONENT = re.compile(r"components/component\[name=([^\]]+)\]/state/temperature/instant$")


@pytest.mark.parametrize("profile", PLATFORM, ids=ids(PLATFORM))
def test_sampled_temperatures_come_from_every_component_but_the_fans(fleet, profile):
    request = {
        "subscription": [
            {
                "path": "/components/component/state/temperature/instant",
                "mode": "sample",
                "sample_interval": 1_000_000_000,
            }
        ],
        "mode": "stream",
        "encoding": "json_ietf",
    }
    expected = profile.hot_components()
    seen, stamps = set(), []
    deadline = time.monotonic() + DEADLINE
    with client(devices_of(profile)[1], fleet.port) as gc:
        sub = gc.subscribe_stream(subscribe=request)
        # The first reply is everything up to sync_response; then one sample per second
        # (a Junos-shaped device sends a sample as one notification per component).
        while len(set(stamps)) < 2 or seen != expected:
            left = deadline - time.monotonic()
            assert left > 0, f"missing {sorted(expected - seen)} after {DEADLINE}s"
            message = sub.get_update(timeout=left)
            for u in message["update"]["update"]:
                match = COMPONENT.search(joined(message["update"].get("prefix"), u["path"]))
                assert match, u
                seen.add(match.group(1))
                assert TEMPERATURE.match(u["val"]), u
            stamps.append(message["update"]["timestamp"])
        sub.close()
    assert seen == expected, sorted(seen ^ expected)
    assert not any(name.startswith("Fan") for name in seen)
    assert stamps == sorted(stamps)


@pytest.mark.parametrize("profile", PLATFORM, ids=ids(PLATFORM))
def test_on_change_on_a_sampled_only_path_is_invalid_argument(fleet, profile):
    request = {
        "subscription": [{"path": "/system/cpus/cpu/state/total/instant", "mode": "on_change"}],
        "mode": "stream",
        "encoding": "json_ietf",
    }
    with client(devices_of(profile)[0], fleet.port) as gc:
        sub = gc.subscribe_stream(subscribe=request)
        error = stream_error(sub)
        sub.close()
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "SAMPLE" in error.details(), error.details()


def test_on_change_sends_the_static_and_on_change_leaves_and_resends_them_on_heartbeat(fleet):
    profile = next(p for p in PROFILES if p.name == "juniper-mx")
    request = {
        "subscription": [
            {"path": CHASSIS, "mode": "on_change", "heartbeat_interval": 1_000_000_000},
        ],
        "mode": "stream",
        "encoding": "json_ietf",
    }
    with client(devices_of(profile)[0], fleet.port) as gc:
        sub = gc.subscribe_stream(subscribe=request)
        first = sub.get_update(timeout=DEADLINE)
        assert first.get("sync_response") is True
        leaves = {u["path"].rsplit("state/", 1)[1] for u in first["update"]["update"]}
        again = sub.get_update(timeout=DEADLINE)
        sub.close()
    assert {"name", "type", "oper-status", "serial-no", "temperature/alarm-status"} <= leaves, leaves
    assert not any(leaf.startswith("temperature/") and leaf != "temperature/alarm-status" for leaf in leaves)
    assert {u["path"].rsplit("state/", 1)[1] for u in again["update"]["update"]} == leaves


# --- REST ------------------------------------------------------------------------------------


def device_count(api):
    status, body = call(api, "GET", "/api/v1/status")
    assert status == 200, body
    return body["devices"]


def test_rest_refuses_an_unknown_device_type_and_creates_nothing(fleet):
    before = device_count(fleet.api)
    body = {"start_ip": "127.84.60.1", "device_count": 3, "device_type": "cisco-ios"}
    status, reply = call(fleet.api, "POST", "/api/v1/devices", body)
    assert status == 400, reply
    assert reply["success"] is False
    assert "device_type" in reply["message"] and "cisco-ios" in reply["message"]
    for profile in PROFILES:
        assert profile.name in reply["message"], reply["message"]
    assert device_count(fleet.api) == before
    status, _ = call(fleet.api, "GET", "/api/v1/devices/127.84.60.1")
    assert status == 404


def test_rest_devices_show_their_device_type_and_naming(fleet):
    status, body = call(fleet.api, "GET", "/api/v1/devices/" + devices_of(PROFILES[3])[0])
    assert status == 200, body
    assert body["data"]["config"]["device_type"] == "juniper-mx"
    assert body["data"]["config"]["interface_naming"] == "junos"
    status, body = call(fleet.api, "GET", "/api/v1/status")
    assert status == 200
    by_type = body["composition"]["by_device_type"]
    assert {p.name: by_type.get(p.name) for p in PROFILES} == {p.name: 2 for p in PROFILES}, by_type


# --- --profile-dir ---------------------------------------------------------------------------

LAB_BOX = """\
name = "lab-box"
description = "A lab box with one fan"

[interfaces]
naming = "sros"

[inventory]
manufacturer = "Lab Works"
chassis_part = "LB-1"
fans = 1
cpus = 1
memory_gib = 2
"""

BAD_FILES = [
    # (file text, line, field, a word of the reason)
    (LAB_BOX.replace("fans = 1", 'fans = "many"'), 10, "inventory.fans", "u32"),
    (LAB_BOX.replace("fans = 1", "fans = 1025"), 10, "inventory.fans", "1024"),
    (LAB_BOX.replace("cpus = 1", "cpus = 0"), 11, "inventory.cpus", "CPU"),
    (LAB_BOX.replace("memory_gib = 2", "memory_gib = 1048577"), 12, "inventory.memory_gib", "1048576"),
    (LAB_BOX.replace('name = "lab-box"', 'name = "Lab Box"'), 1, "name", "a-z"),
    (LAB_BOX.replace("[interfaces]", 'colour = "red"\n[interfaces]'), 4, "colour", "unknown field"),
    (LAB_BOX.replace('naming = "sros"', 'naming = "ios"'), 5, "interfaces.naming", "junos"),
    (LAB_BOX.replace('manufacturer = "Lab Works"\n', ""), 7, "inventory", "manufacturer"),
]


def run_nl6d(*args):
    """Runs nl6d to its end (it must refuse to start); returns (exit status, its output)."""
    command = [str(TARGET_DIR / "nl6d"), "--listen", f"127.0.0.1:{free_port()}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize(
    "text,line,field,reason", BAD_FILES, ids=[f"{f}-{r}".replace(" ", "_") for _, _, f, r in BAD_FILES]
)
def test_a_malformed_profile_file_stops_nl6d_with_its_file_line_and_field(tmp_path, text, line, field, reason):
    (tmp_path / "a-good.toml").write_text(LAB_BOX.replace("lab-box", "good-box"))
    bad = tmp_path / "lab.toml"
    bad.write_text(text)
    code, output = run_nl6d("--auto-count", "0", "--profile-dir", str(tmp_path))
    assert code == 2, output
    where = f"{bad}:{line}: {field}:"
    assert where in output, output
    message = output[output.index(where):].splitlines()[0]
    assert field in message and reason in message, message


def test_two_profile_files_with_one_name_are_refused(tmp_path):
    (tmp_path / "a.toml").write_text(LAB_BOX)
    (tmp_path / "b.toml").write_text(LAB_BOX.replace("fans = 1", "fans = 2"))
    code, output = run_nl6d("--auto-count", "0", "--profile-dir", str(tmp_path))
    assert code == 2, output
    assert f"{tmp_path / 'b.toml'}:1: name:" in output and "lab-box" in output, output


def test_a_missing_profile_directory_stops_nl6d(tmp_path):
    code, output = run_nl6d("--auto-count", "0", "--profile-dir", str(tmp_path / "nope"))
    assert code == 2, output
    assert str(tmp_path / "nope") in output, output


def test_an_unknown_device_type_flag_stops_nl6d():
    code, output = run_nl6d("--auto-count", "1", "--auto-start-ip", "127.84.59.1", "--device-type", "cisco-ios")
    assert code == 2, output
    assert "device_type" in output and "juniper-mx" in output, output


def test_a_custom_profile_is_served_and_a_file_may_replace_a_built_in(nl6d, tmp_path):
    (tmp_path / "lab-box.toml").write_text(LAB_BOX)
    (tmp_path / "sonic.toml").write_text(
        'name = "sonic"\n[interfaces]\nnaming = "sonic"\n'
        '[inventory]\nmanufacturer = "Own Build"\nchassis_part = "WB-1"\ncpus = 2\nmemory_gib = 4\n'
    )
    (tmp_path / "notes.txt").write_text("not a profile: only *.toml files are read")
    rest, port = free_port(), free_port()
    nl6d(
        *("--profile-dir", str(tmp_path), "--device-type", "lab-box"),
        *("--auto-start-ip", "127.84.50.1", "--auto-count", "2"),
        *("--gnmi-port", str(port), "--gnmi-tls=false", "--listen", f"127.0.0.1:{rest}"),
    )
    api = f"http://127.0.0.1:{rest}"

    with client("127.84.50.1", port) as gc:
        caps = gc.capabilities()
        assert sorted(m["name"] for m in caps["supported_models"]) == sorted({IFACE_MODEL} | PLATFORM_MODELS)
        fan = updates(gc.get(path=["/components/component[name=Fan1]/state"], encoding="json_ietf"))
        with pytest.raises(Exception) as err:
            gc.get(path=["/components/component[name=Fan2]/state"], encoding="json_ietf")
        assert grpc_code(err.value) == grpc.StatusCode.NOT_FOUND
        names = updates(gc.get(path=["/components/component/state/name"], encoding="json_ietf"))
        iface = updates(gc.get(path=["/interfaces/interface[name=1/1/c1/1]/state/ifindex"], encoding="proto"))
    leaf = "components/component[name=Fan1]/state/"
    assert fan[leaf + "type"] == "openconfig-platform-types:FAN"
    assert fan[leaf + "mfg-name"] == "Lab Works" and fan[leaf + "part-no"] == "LB-1-FAN"
    assert not any("temperature/instant" in p for p in fan), "a fan has no temperature sensor"
    assert sorted(names.values()) == sorted(["Chassis", "Fan1", "CPU0"] + [f"Transceiver{i}" for i in range(1, 11)])
    assert list(iface.values()) == [1], "the profile's interface naming (sros) applies"

    status, body = call(api, "GET", "/api/v1/devices/127.84.50.1")
    assert status == 200 and body["data"]["config"]["device_type"] == "lab-box", body
    assert body["data"]["config"]["interface_naming"] == "sros"

    # The file named "sonic" replaced the built-in of that name.
    status, body = call(api, "POST", "/api/v1/devices", {"start_ip": "127.84.51.1", "device_type": "sonic"})
    assert status == 201, body
    chassis = get("127.84.51.1", port, CHASSIS + "/mfg-name", "json_ietf")
    assert list(chassis.values()) == ["Own Build"]
    status, body = call(api, "POST", "/api/v1/devices", {"start_ip": "127.84.52.1", "device_type": "notes"})
    assert status == 400 and "lab-box" in body["message"], body
