"""nl6 dial-out received by a collector built on Python grpcio (not our gRPC stack)."""

import datetime
import ipaddress
import json
import signal
import sys
import urllib.request
from pathlib import Path

import pytest

from conftest import Daemon, free_port

COLLECTOR = Path(__file__).with_name("gnmireverse_collector.py")


@pytest.fixture
def grpcio_collector(tmp_path):
    """Factory: a grpcio gNMIReverse collector process on a free port."""
    started = []

    def start(*extra):
        port = free_port()
        proc = Daemon(
            ["--port", str(port), "--stubs", str(tmp_path / "stubs"), *extra],
            binary_name="grpcio collector",
            ready="listening on",
            command=[sys.executable, str(COLLECTOR)],
        )
        started.append(proc)
        return proc, port

    yield start
    for proc in started:
        proc.proc.send_signal(signal.SIGKILL)
        proc.stop()


def received(proc):
    """The notifications the collector printed so far."""
    return [json.loads(line) for line in proc.lines_matching(lambda l: l.startswith("{"))]


def self_signed(tmp_path):
    """A CA and a server certificate for localhost signed by it (python cryptography).

    Returns (server cert file, server key file, CA file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def builder(subject, issuer, public_key):
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nl6 test CA")])
    ca_cert = (
        builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]), ca_name, key.public_key())
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_file = tmp_path / "collector-cert.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file = tmp_path / "collector-key.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    ca_file = tmp_path / "collector-ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    return cert_file, key_file, ca_file


def devices(first_octets, count):
    base = f"127.{first_octets}"
    return [f"{base}.{i}" for i in range(1, count + 1)]


def start_dialout(nl6d, first_octets, count, collector_addr, *extra):
    return nl6d(
        "--auto-start-ip", f"127.{first_octets}.1",
        "--auto-count", str(count),
        "--auto-netmask", "24",
        "--gnmi-port", str(free_port()),
        "--gnmi-tls=false",
        "--listen", f"127.0.0.1:{free_port()}",
        "--gnmi-mode", "dial-out",
        "--gnmi-dialout-collector", collector_addr,
        "--gnmi-dialout-interval", "1s",
        *extra,
    )


@pytest.mark.parametrize("encoding", ["json_ietf", "proto"])
def test_sample_streams_from_every_device_address(nl6d, grpcio_collector, encoding):
    collector, port = grpcio_collector()
    octets = "71.1" if encoding == "json_ietf" else "71.2"
    expected = set(devices(octets, 4))
    start_dialout(nl6d, octets, 4, f"127.0.0.1:{port}", "--gnmi-dialout-tls=false",
                  "--gnmi-dialout-encoding", encoding)

    def two_samples_each(_lines):
        got = received(collector)
        return all(sum(1 for n in got if n["peer"] == d) >= 2 for d in expected)

    collector.wait_until(two_samples_each, timeout=30)
    got = received(collector)
    assert {n["peer"] for n in got} == expected, "one source address per device"
    for n in got:
        assert n["target"] == n["peer"], "Prefix.target is the device address"
        assert n["updates"] == 10 * 17, "all paths at one instant in one Notification"
        assert n["timestamp"] > 1_600_000_000 * 10**9, "Unix ns timestamp"
        if encoding == "json_ietf":
            assert n["kinds"] == ["json_ietf_val"]
        else:
            assert n["kinds"] == ["string_val", "uint_val"]


def test_tls_with_a_ca_bundle(nl6d, grpcio_collector, tmp_path):
    cert, key, ca = self_signed(tmp_path)
    collector, port = grpcio_collector("--cert", str(cert), "--key", str(key))
    start_dialout(nl6d, "71.3", 2, f"localhost:{port}", "--gnmi-dialout-tls-ca", str(ca))
    collector.wait_until(lambda _l: len({n["peer"] for n in received(collector)}) == 2, timeout=30)
    for n in received(collector):
        assert ipaddress.ip_address(n["target"]) == ipaddress.ip_address(n["peer"])
    assert {n["peer"] for n in received(collector)} == set(devices("71.3", 2))


def dialout_status(api):
    with urllib.request.urlopen(api + "/api/v1/gnmi/dialout/status", timeout=10) as reply:
        return json.loads(reply.read())


def test_no_pings_by_default_and_too_many_pings_doubles_the_keepalive(nl6d, grpcio_collector):
    """A grpcio collector enforcing the default 5-minute ping policy: with keepalive off
    (the default) nothing is torn down; with 10 s pings it sends GOAWAY too_many_pings,
    the device doubles its interval, reconnects, and the status counts it.

    On-change devices on a quiet network: gRPC C-core forgives pings while it sends
    flow-control updates for incoming data (grpc-go does not), so the idle stream is
    where C-core's policy bites."""
    collector, port = grpcio_collector("--min-ping-interval-ms", "300000")
    quiet_api = f"http://127.0.0.1:{free_port()}"
    nl6d(
        "--auto-start-ip", "127.71.5.1", "--auto-count", "1", "--auto-netmask", "24",
        "--gnmi-port", str(free_port()), "--gnmi-tls=false",
        "--listen", quiet_api.removeprefix("http://"),
        "--gnmi-mode", "dial-out", "--gnmi-dialout-collector", f"127.0.0.1:{port}",
        "--gnmi-dialout-tls=false", "--gnmi-dialout-sub-mode", "on-change",
    )
    pinging_api = f"http://127.0.0.1:{free_port()}"
    nl6d(
        "--auto-start-ip", "127.71.6.1", "--auto-count", "1", "--auto-netmask", "24",
        "--gnmi-port", str(free_port()), "--gnmi-tls=false",
        "--listen", pinging_api.removeprefix("http://"),
        "--gnmi-mode", "dial-out", "--gnmi-dialout-collector", f"127.0.0.1:{port}",
        "--gnmi-dialout-tls=false", "--gnmi-dialout-sub-mode", "on-change",
        "--gnmi-dialout-keepalive", "10s",
    )

    def streams_from(ip):
        return len(collector.lines_matching(lambda l: l == f"stream from {ip}"))

    # gRPC C-core strikes every ping within the 5 minutes: the 4th ping (~40 s) is one too many.
    collector.wait_until(lambda _l: streams_from("127.71.6.1") >= 2, timeout=90)
    pinging = dialout_status(pinging_api)["collectors"][0]
    assert pinging["too_many_pings"] == 1, pinging
    assert pinging["disconnects"]["goaway"] == 1, pinging
    quiet = dialout_status(quiet_api)["collectors"][0]
    assert quiet["disconnects"] == {"goaway": 0, "reset": 0, "eof": 0, "error": 0}, quiet
    assert quiet["too_many_pings"] == 0 and quiet["reconnects"] == 0, quiet
    assert streams_from("127.71.5.1") == 1
