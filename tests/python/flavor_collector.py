"""A dial-out collector for nl6's other flavors, written with Python grpcio from nl6's
.proto files (compiled at start with grpcio-tools), run as its own process:

    python flavor_collector.py --flavor sonic|nokia|get --port 6030 --stubs /tmp/stubs
        [--respond]

- sonic: `gnmi.sonic.gNMIDialOut/Publish`; with --respond one PublishResponse (the
  paths received) per message, otherwise none (SONiC's own server never answers).
- nokia: `Nokia.SROS.DialoutTelemetry/Publish`; one empty PublishResponse per message,
  as gnmic listen does.
- get: `gnmireverse.gNMIReverse/PublishGet`.

Prints `listening on 127.0.0.1:<port>`, then `stream from <ip> subscription=<s>
system=<s>` when a call starts and one JSON line per notification:
{"peer": ip, "target": ..., "updates": n, "get": index of the GetResponse's notification or null}.
"""

import argparse
import importlib
import json
import sys
import threading
from concurrent import futures
from pathlib import Path

import grpc
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[2]
PROTO_DIR = ROOT / "proto"
FILES = [
    "gnmi_ext/gnmi_ext.proto",
    "gnmi/gnmi.proto",
    "gnmireverse/gnmireverse.proto",
    "sonic/dial_out.proto",
    "nokia/dialout.proto",
]


def compile_stubs(out_dir: Path):
    """Compiles the protos into out_dir and puts it on sys.path."""
    import grpc_tools

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    out_dir.mkdir(parents=True, exist_ok=True)
    code = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{PROTO_DIR}",
            f"-I{well_known}",
            f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            *[str(PROTO_DIR / f) for f in FILES],
        ]
    )
    if code != 0:
        raise RuntimeError(f"protoc failed with {code}")
    for package in ("gnmi", "gnmi_ext", "gnmireverse", "sonic", "nokia"):
        (out_dir / package / "__init__.py").touch()
    sys.path.insert(0, str(out_dir))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--flavor", choices=["sonic", "nokia", "get"], required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stubs", type=Path, required=True)
    parser.add_argument("--respond", action="store_true")
    args = parser.parse_args()

    compile_stubs(args.stubs)
    out_lock = threading.Lock()

    def say(line):
        with out_lock:
            print(line, flush=True)

    def started(context):
        peer = context.peer()  # "ipv4:127.42.0.1:40000"
        ip = peer.split(":")[1] if peer.startswith("ipv4:") else peer
        meta = dict(context.invocation_metadata())
        say(f"stream from {ip} subscription={meta.get('subscription-name', '-')} "
            f"system={meta.get('system-name', '-')}")
        return ip

    def notification(ip, n, get=None):
        say(json.dumps({"peer": ip, "target": n.prefix.target, "updates": len(n.update), "get": get}))

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=64))
    if args.flavor == "sonic":
        service = importlib.import_module("sonic.dial_out_pb2_grpc")
        messages = importlib.import_module("sonic.dial_out_pb2")

        class Sonic(service.gNMIDialOutServicer):
            def Publish(self, request_iterator, context):
                ip = started(context)
                for response in request_iterator:
                    if response.HasField("update"):
                        notification(ip, response.update)
                        if args.respond:
                            reply = messages.PublishResponse(timestamp=response.update.timestamp)
                            reply.prefix.CopyFrom(response.update.prefix)
                            reply.path.extend(u.path for u in response.update.update)
                            yield reply

        service.add_gNMIDialOutServicer_to_server(Sonic(), server)
    elif args.flavor == "nokia":
        service = importlib.import_module("nokia.dialout_pb2_grpc")
        messages = importlib.import_module("nokia.dialout_pb2")

        class Nokia(service.DialoutTelemetryServicer):
            def Publish(self, request_iterator, context):
                ip = started(context)
                for response in request_iterator:
                    if response.HasField("update"):
                        notification(ip, response.update)
                    yield messages.PublishResponse()

        service.add_DialoutTelemetryServicer_to_server(Nokia(), server)
    else:
        service = importlib.import_module("gnmireverse.gnmireverse_pb2_grpc")
        from google.protobuf import empty_pb2

        class Get(service.gNMIReverseServicer):
            def PublishGet(self, request_iterator, context):
                ip = started(context)
                for reply in request_iterator:
                    for i, n in enumerate(reply.notification):
                        notification(ip, n, get=i)
                return empty_pb2.Empty()

        service.add_gNMIReverseServicer_to_server(Get(), server)

    address = f"127.0.0.1:{args.port}"
    server.add_insecure_port(address)
    server.start()
    print(f"listening on {address}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
