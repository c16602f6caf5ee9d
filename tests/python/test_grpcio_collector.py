"""nl6 dial-out received by a collector built on Python grpcio (not our gRPC stack)."""

import datetime
import ipaddress

import grpc
import pytest

from conftest import free_port
from gnmireverse_collector import Collector, compile_stubs


@pytest.fixture(scope="session")
def stubs(tmp_path_factory):
    return compile_stubs(tmp_path_factory.mktemp("gnmireverse_stubs"))


def self_signed(tmp_path):
    """A self-signed certificate for localhost (python cryptography), as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    ca = tmp_path / "collector-ca.pem"
    ca.write_bytes(cert_pem)
    return cert_pem, key_pem, ca


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
def test_sample_streams_from_every_device_address(nl6d, stubs, encoding):
    port = free_port()
    collector = Collector(stubs, port)
    try:
        octets = "71.1" if encoding == "json_ietf" else "71.2"
        expected = set(devices(octets, 4))
        start_dialout(nl6d, octets, 4, f"127.0.0.1:{port}", "--gnmi-dialout-tls=false",
                      "--gnmi-dialout-encoding", encoding)
        # Two samples from each device.
        got = collector.wait_for(
            lambda ns: all(sum(1 for ip, _ in ns if ip == d) >= 2 for d in expected), timeout=30
        )
        assert {ip for ip, _ in got} == expected, "one source address per device"
        for ip, n in got:
            assert n.prefix.target == ip, "Prefix.target is the device address"
            assert len(n.update) == 10 * 17, "all paths at one instant in one Notification"
            assert n.timestamp > 1_600_000_000 * 10**9, "Unix ns timestamp"
            kind = n.update[0].val.WhichOneof("value")
            if encoding == "json_ietf":
                assert kind == "json_ietf_val"
            else:
                assert kind in ("string_val", "uint_val")
        assert collector.streams >= 4
    finally:
        collector.stop()


def test_tls_with_a_ca_bundle(nl6d, stubs, tmp_path):
    cert_pem, key_pem, ca = self_signed(tmp_path)
    port = free_port()
    credentials = grpc.ssl_server_credentials([(key_pem, cert_pem)])
    collector = Collector(stubs, port, credentials)
    try:
        start_dialout(nl6d, "71.3", 2, f"localhost:{port}", "--gnmi-dialout-tls-ca", str(ca))
        got = collector.wait_for(lambda ns: len({ip for ip, _ in ns}) == 2, timeout=30)
        assert {ip for ip, _ in got} == set(devices("71.3", 2))
        for ip, n in got:
            assert ipaddress.ip_address(n.prefix.target) == ipaddress.ip_address(ip)
    finally:
        collector.stop()
