"""A gNMIReverse collector written with Python grpcio, from nl6's .proto files.

Run as its own process (protobuf's descriptor pool is process-wide, and pygnmi
registers its own gnmi_ext there):

    python gnmireverse_collector.py --port 6030 --stubs /tmp/stubs [--cert c.pem --key k.pem]
        [--min-ping-interval-ms 300000]

It compiles the stubs with grpcio-tools (which ships google/protobuf/empty.proto),
prints `listening on 127.0.0.1:<port>`, then one JSON line per received notification:
{"peer": ip, "target": ..., "timestamp": ns, "updates": n, "kinds": [...]}, and
`stream from <ip>` when a Publish call starts. `--min-ping-interval-ms` sets gRPC
C-core's keepalive enforcement (`grpc.http2.min_ping_interval_without_data_ms`, 5 minutes
by default, like grpc-go's `EnforcementPolicy.MinTime`).

`--delay-ms D` makes it a slow collector: every received message holds one lock shared by
all streams for D ms before it is read further, so it takes at most 1000/D messages per
second in all (each line then also has `"at"`, the Unix time it was taken, in seconds).
Flow control then slows the senders. `--no-bdp-probe` keeps gRPC C-core's HTTP/2 windows
from growing (no bandwidth-delay probing); `--lookahead-bytes N` sets how far C-core reads
ahead of the application on each stream (`grpc.http2.lookahead_bytes`, 64 KiB by default).
"""

import argparse
import importlib
import json
import sys
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[2]
PROTO_DIR = ROOT / "proto"


def compile_stubs(out_dir: Path):
    """Compiles gnmi, gnmi_ext and gnmireverse into out_dir and imports the service."""
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
    return importlib.import_module("gnmireverse.gnmireverse_pb2_grpc")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stubs", type=Path, required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--min-ping-interval-ms", type=int)
    parser.add_argument("--delay-ms", type=float)
    parser.add_argument("--no-bdp-probe", action="store_true")
    parser.add_argument("--lookahead-bytes", type=int)
    args = parser.parse_args()

    service = compile_stubs(args.stubs)
    from google.protobuf import empty_pb2

    out_lock = threading.Lock()
    slow_lock = threading.Lock()
    delay = (args.delay_ms or 0) / 1000.0

    class Servicer(service.gNMIReverseServicer):
        def Publish(self, request_iterator, context):
            peer = context.peer()  # "ipv4:127.42.0.1:40000"
            ip = peer.split(":")[1] if peer.startswith("ipv4:") else peer
            with out_lock:
                print(f"stream from {ip}", flush=True)
            for response in request_iterator:
                if delay:
                    with slow_lock:
                        time.sleep(delay)
                if not response.HasField("update"):
                    continue
                n = response.update
                record = {
                    "peer": ip,
                    "target": n.prefix.target,
                    "timestamp": n.timestamp,
                    "updates": len(n.update),
                    "kinds": sorted({u.val.WhichOneof("value") or "" for u in n.update}),
                }
                if delay:
                    record["at"] = time.time()
                line = json.dumps(record)
                with out_lock:
                    print(line, flush=True)
            return empty_pb2.Empty()

    options = []
    if args.min_ping_interval_ms is not None:
        options.append(("grpc.http2.min_ping_interval_without_data_ms", args.min_ping_interval_ms))
    if args.no_bdp_probe:
        options.append(("grpc.http2.bdp_probe", 0))
    if args.lookahead_bytes is not None:
        options.append(("grpc.http2.lookahead_bytes", args.lookahead_bytes))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=64), options=options)
    service.add_gNMIReverseServicer_to_server(Servicer(), server)
    address = f"127.0.0.1:{args.port}"
    if args.cert:
        with open(args.cert, "rb") as c, open(args.key, "rb") as k:
            credentials = grpc.ssl_server_credentials([(k.read(), c.read())])
        server.add_secure_port(address, credentials)
    else:
        server.add_insecure_port(address)
    server.start()
    print(f"listening on {address}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
