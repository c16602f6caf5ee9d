"""Cisco MDT collectors written here with grpcio/protobuf from nl6's protos under
proto/mdt (compiled at test time with grpcio-tools), run in the test process:

- `GrpcDialoutCollector`: a grpcio server of `mdt_dialout.gRPCMdtDialout/MdtDialout`
  with default server options; it sends nothing back on the stream, as the reference
  collectors do.
- `TcpCollector`: accepts TCP dial-out, splits the byte stream by the 12-byte
  big-endian header; it can reset one device's connection in the middle of a message.
- `UdpCollector`: one message per datagram, the same header in each.

Every collector records what it got with the sender's address, so a test can check that
each device's connection or datagrams come from its own address.
"""

import importlib
import socket
import struct
import sys
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[2]
PROTO_DIR = ROOT / "proto" / "mdt"
HEADER = struct.Struct(">HHHHI")
MAX_MESSAGE = 1 << 20  # telegraf refuses a length over 1 MiB


def protoc_compile(include: Path, files, out_dir: Path, grpc_stubs=False):
    """Compiles `files` (under include) into out_dir and puts out_dir on sys.path."""
    import grpc_tools

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    out_dir.mkdir(parents=True, exist_ok=True)
    args = ["grpc_tools.protoc", f"-I{include}", f"-I{well_known}", f"--python_out={out_dir}"]
    if grpc_stubs:
        args.append(f"--grpc_python_out={out_dir}")
    code = protoc.main([*args, *[str(include / f) for f in files]])
    if code != 0:
        raise RuntimeError(f"protoc failed with {code} on {files}")
    if str(out_dir) not in sys.path:
        sys.path.insert(0, str(out_dir))


class Stubs:
    """The modules of proto/mdt: `telemetry` (telemetry_pb2), `dialout`
    (mdt_grpc_dialout_pb2) and `dialout_grpc`."""

    def __init__(self, out_dir: Path):
        protoc_compile(
            PROTO_DIR,
            ["telemetry.proto", "mdt_grpc_dialout.proto", "mdt_grpc_dialin.proto"],
            out_dir,
            grpc_stubs=True,
        )
        self.telemetry = importlib.import_module("telemetry_pb2")
        self.dialout = importlib.import_module("mdt_grpc_dialout_pb2")
        self.dialout_grpc = importlib.import_module("mdt_grpc_dialout_pb2_grpc")

    def decode(self, payload: bytes):
        message = self.telemetry.Telemetry()
        message.ParseFromString(payload)
        return message


def compile_path_proto(text: str, out_dir: Path, module: str):
    """Writes a generated path .proto as `<module>.proto`, compiles it and imports it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{module}.proto").write_text(text)
    protoc_compile(out_dir, [f"{module}.proto"], out_dir)
    return importlib.import_module(f"{module}_pb2")


def field_value(field):
    """The typed value of a TelemetryField leaf (None for a container)."""
    kind = field.WhichOneof("value_by_type")
    return getattr(field, kind) if kind else None


def field_tree(field):
    """A kvGPB container as a dict: leaf name → value, container name → dict."""
    out = {}
    for child in field.fields:
        out[child.name] = field_tree(child) if len(child.fields) else field_value(child)
    return out


def kv_rows(telemetry):
    """(keys, content) dicts of every kvGPB row of a Telemetry message."""
    rows = []
    for row in telemetry.data_gpbkv:
        parts = {child.name: field_tree(child) for child in row.fields}
        rows.append((parts.get("keys"), parts.get("content"), row))
    return rows


def peer_ip(peer: str) -> str:
    """The address of a grpc peer string `ipv4:127.77.0.1:40000`."""
    if peer.startswith("ipv4:"):
        return peer[len("ipv4:"):].rsplit(":", 1)[0]
    return peer


class _Recorder:
    def __init__(self):
        self.lock = threading.Condition()
        self.streams = []  # one dict per stream / connection, in order of arrival

    def wait(self, what, predicate, timeout):
        """Waits until predicate() holds (checked under the lock); fails naming what."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{what} within {timeout}s; streams: {self.summary()}")
                self.lock.wait(min(left, 0.2))

    def summary(self):
        return [(s["ip"], len(s["messages"]), s.get("end")) for s in self.streams]

    def by_ip(self):
        """Streams per sender address (a copy)."""
        with self.lock:
            out = {}
            for s in self.streams:
                out.setdefault(s["ip"], []).append(s)
            return out


class GrpcDialoutCollector(_Recorder):
    """A gRPCMdtDialout server on 127.0.0.1:port; each stream records (peer ip,
    [MdtDialoutArgs])."""

    def __init__(self, stubs: Stubs, port: int = 0, max_workers=64, tls=None):
        super().__init__()
        recorder = self

        class Servicer(stubs.dialout_grpc.gRPCMdtDialoutServicer):
            def MdtDialout(self, request_iterator, context):
                stream = {"ip": peer_ip(context.peer()), "peer": context.peer(), "messages": []}
                with recorder.lock:
                    recorder.streams.append(stream)
                    recorder.lock.notify_all()
                try:
                    for args in request_iterator:
                        with recorder.lock:
                            stream["messages"].append(args)
                            recorder.lock.notify_all()
                except grpc.RpcError as err:  # the device went away
                    stream["end"] = repr(err)
                finally:
                    with recorder.lock:
                        stream.setdefault("end", "eof")
                        recorder.lock.notify_all()
                return
                yield  # a generator that never answers

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers))
        stubs.dialout_grpc.add_gRPCMdtDialoutServicer_to_server(Servicer(), self.server)
        if tls is None:
            self.port = self.server.add_insecure_port(f"127.0.0.1:{port}")
        else:  # (cert file, key file): TLS as a user would run it
            cert, key = (Path(p).read_bytes() for p in tls)
            credentials = grpc.ssl_server_credentials([(key, cert)])
            self.port = self.server.add_secure_port(f"127.0.0.1:{port}", credentials)
        if not self.port:
            raise RuntimeError(f"cannot listen on 127.0.0.1:{port}")
        self.address = f"127.0.0.1:{self.port}"
        self.server.start()

    def stop(self):
        self.server.stop(grace=0).wait(5)


class TcpCollector(_Recorder):
    """TCP dial-out collector: each connection records (ip, [(header tuple, payload)]).

    `reset_after[ip] = n`: on that device's first connection, after n whole messages read
    the next header and half its payload, then close with SO_LINGER 0 (a TCP reset in
    the middle of a message)."""

    def __init__(self, port: int = 0, reset_after=None):
        super().__init__()
        self.reset_after = dict(reset_after or {})
        self.errors = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self._stopped = False
        self._conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stopped:
            try:
                conn, (ip, _port) = self.sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            stream = {"ip": ip, "messages": []}
            with self.lock:
                first = all(s["ip"] != ip for s in self.streams)
                self.streams.append(stream)
                self.lock.notify_all()
            reset = self.reset_after.get(ip) if first else None
            threading.Thread(target=self._read, args=(conn, stream, reset), daemon=True).start()

    @staticmethod
    def _exactly(conn, n):
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def _read(self, conn, stream, reset):
        try:
            while True:
                head = self._exactly(conn, HEADER.size)
                if head is None:
                    end = "eof"
                    break
                header = HEADER.unpack(head)
                length = header[4]
                if length > MAX_MESSAGE:
                    # What telegraf does: refuse and drop the connection.
                    self.errors.append((stream["ip"], f"length {length} over 1 MiB"))
                    end = "oversize"
                    break
                if reset is not None and len(stream["messages"]) >= reset:
                    self._exactly(conn, max(1, length // 2))
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    end = "reset by collector"
                    break
                payload = self._exactly(conn, length)
                if payload is None:
                    end = "eof inside a message"
                    self.errors.append((stream["ip"], end))
                    break
                with self.lock:
                    stream["messages"].append((header, payload))
                    self.lock.notify_all()
        except OSError as err:
            end = repr(err)
        finally:
            conn.close()
        with self.lock:
            stream["end"] = end
            self.lock.notify_all()

    def stop(self):
        self._stopped = True
        self.sock.close()
        for conn in self._conns:
            try:
                conn.close()
            except OSError:
                pass


class UdpCollector(_Recorder):
    """UDP dial-out collector: one 'stream' per sender address with its datagrams as
    (header tuple, payload, datagram size)."""

    def __init__(self, port: int = 0):
        super().__init__()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self._streams = {}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            try:
                data, (ip, port) = self.sock.recvfrom(70_000)
            except OSError:
                return
            header = HEADER.unpack(data[: HEADER.size]) if len(data) >= HEADER.size else None
            with self.lock:
                stream = self._streams.get(ip)
                if stream is None:
                    stream = self._streams[ip] = {"ip": ip, "ports": set(), "messages": []}
                    self.streams.append(stream)
                stream["ports"].add(port)
                stream["messages"].append((header, data[HEADER.size:], len(data)))
                self.lock.notify_all()

    def stop(self):
        self.sock.close()
