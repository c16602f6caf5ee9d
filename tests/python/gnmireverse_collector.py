"""A gNMIReverse collector written with Python grpcio, from nl6's .proto files.

The stubs are compiled at run time by grpcio-tools (which also ships
google/protobuf/empty.proto), so this is a second, independent gRPC stack
receiving nl6's dial-out streams.
"""

import importlib
import sys
import threading
from concurrent import futures
from pathlib import Path

import grpc
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[2]
PROTO_DIR = ROOT / "proto"


def compile_stubs(out_dir: Path):
    """Compiles gnmi, gnmi_ext and gnmireverse into out_dir and imports them."""
    import grpc_tools

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    files = ["gnmi_ext/gnmi_ext.proto", "gnmi/gnmi.proto", "gnmireverse/gnmireverse.proto"]
    out_dir.mkdir(parents=True, exist_ok=True)
    code = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{PROTO_DIR}",
            f"-I{well_known}",
            f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            *[str(PROTO_DIR / f) for f in files],
        ]
    )
    if code != 0:
        raise RuntimeError(f"protoc failed with {code}")
    for package in ("gnmi", "gnmi_ext", "gnmireverse"):
        (out_dir / package / "__init__.py").touch()
    sys.path.insert(0, str(out_dir))
    pb2 = importlib.import_module("gnmireverse.gnmireverse_pb2_grpc")
    gnmi_pb2 = importlib.import_module("gnmi.gnmi_pb2")
    return pb2, gnmi_pb2


class Collector:
    """Runs a grpcio gNMIReverse server and records what arrives."""

    def __init__(self, stubs, port, credentials=None):
        grpc_mod, self.gnmi = stubs
        self.notifications = []  # (peer ip, Notification)
        self.streams = 0
        self._cond = threading.Condition()
        collector = self

        class Servicer(grpc_mod.gNMIReverseServicer):
            def Publish(self, request_iterator, context):
                peer = context.peer()  # "ipv4:127.42.0.1:40000"
                ip = peer.split(":")[1] if peer.startswith("ipv4:") else peer
                with collector._cond:
                    collector.streams += 1
                for response in request_iterator:
                    if response.HasField("update"):
                        with collector._cond:
                            collector.notifications.append((ip, response.update))
                            collector._cond.notify_all()
                from google.protobuf import empty_pb2

                return empty_pb2.Empty()

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=64))
        grpc_mod.add_gNMIReverseServicer_to_server(Servicer(), self.server)
        address = f"127.0.0.1:{port}"
        if credentials is None:
            self.server.add_insecure_port(address)
        else:
            self.server.add_secure_port(address, credentials)
        self.server.start()

    def wait_for(self, predicate, timeout):
        """Waits until predicate(notifications) holds; returns the notifications."""
        with self._cond:
            ok = self._cond.wait_for(lambda: predicate(self.notifications), timeout=timeout)
            snapshot = list(self.notifications)
        if not ok:
            raise TimeoutError(f"condition not met in {timeout}s; got {len(snapshot)} notifications")
        return snapshot

    def stop(self):
        self.server.stop(grace=1).wait()
