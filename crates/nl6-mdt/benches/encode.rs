//! Bytes on the wire and encode time per MDT encoding and transport, for the
//! generic-counters collection of 5 and of 10 interfaces.
//!
//! `cargo bench -p nl6-mdt` prints one table per counter magnitude: counters of six to
//! eight digits (a router up about a day, the magnitude of the Cisco trace that reports
//! 35 counters of 5 interfaces in 833 bytes) and nl6's own analytic counters at the
//! current time (1 Gbit/s links); each table states the counters' magnitude.

use std::hint::black_box;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use nl6_ifstate::{AdminStatus, Counters, DeviceModel, DeviceSpec, IfState, LinkStatus};
use nl6_mdt::proto::mdt_dialout::MdtDialoutArgs;
use nl6_mdt::{
    Collection, CollectionEncoder, DEFAULT_MAX_DATAGRAM, EncodedMessage, HEADER_LEN,
    MAX_TCP_MESSAGE, MdtEncoding, Row, SensorPath,
};
use nl6_resolver::InterfaceReading;
use prost::Message;

const REPETITIONS: usize = 51;

/// Counters of a router up about a day: six to eight digits, no errors.
fn day_old_counters(i: u64) -> Counters {
    let mut c = [0u64; 12];
    c[0] = 41_624_083 + 1_237 * i; // in-octets
    c[1] = 29_699_362 + 911 * i; // out-octets
    c[2] = 358_501 + 97 * i; // in-unicast
    c[3] = 171_507 + 53 * i; // out-unicast
    c[4] = 91_299 + 11 * i; // in-multicast
    c[5] = 188_801 + 17 * i; // out-multicast
    c[6] = 25 + i; // in-broadcast
    c[7] = 25 + i; // out-broadcast
    Counters(c)
}

struct Case {
    label: &'static str,
    names: Vec<String>,
    readings: Vec<InterfaceReading>,
    timestamp_ms: u64,
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn day_old(n: usize) -> Case {
    let up = IfState {
        link: LinkStatus::Up,
        admin: AdminStatus::Up,
        last_change_ns: 0,
    };
    Case {
        label: "a router up about a day (the Cisco trace's values)",
        names: (0..n)
            .map(|i| format!("GigabitEthernet0/0/0/{i}"))
            .collect(),
        readings: (0..n as u64)
            .map(|i| InterfaceReading {
                state: up,
                counters: day_old_counters(i),
            })
            .collect(),
        timestamp_ms: now_ns() / 1_000_000,
    }
}

fn nl6_default(n: usize) -> Case {
    let spec = DeviceSpec {
        interfaces: n as u32,
        ..DeviceSpec::default()
    };
    let model = DeviceModel::new(&spec).expect("valid spec");
    let now = now_ns();
    Case {
        label: "nl6's analytic counters now (1 Gbit/s, default device)",
        names: (0..n).map(|i| model.names().name(i).to_string()).collect(),
        readings: (0..n)
            .map(|i| InterfaceReading {
                state: model.state(i),
                counters: model.counters_at(i, now),
            })
            .collect(),
        timestamp_ms: now / 1_000_000,
    }
}

fn rows(case: &Case) -> Vec<Row<'_>> {
    case.names
        .iter()
        .zip(&case.readings)
        .enumerate()
        .map(|(i, (name, reading))| Row {
            name,
            ifindex: i as u32 + 1,
            speed_bps: 1_000_000_000,
            reading: *reading,
        })
        .collect()
}

fn collection<'a>(case: &Case, rows: &'a [Row<'a>]) -> Collection<'a> {
    Collection {
        path: SensorPath::GenericCounters,
        node_id: "xr-router-1",
        subscription_id: "if-stats",
        collection_id: 77_598,
        timestamp_ms: case.timestamp_ms,
        event: false,
        rows,
    }
}

fn messages(c: &Collection<'_>, encoding: MdtEncoding, max: usize) -> (Vec<EncodedMessage>, usize) {
    let mut out = Vec::new();
    let dropped = CollectionEncoder::new().encode(c, encoding, max, &mut out);
    (out, dropped)
}

/// Median ns per row of encoding `c` in each encoding. The encodings take turns, a
/// short batch each, so a load spike on a shared machine hits them alike.
fn ns_per_row(c: &Collection<'_>) -> [f64; 3] {
    let mut encoder = CollectionEncoder::new();
    let mut out = Vec::new();
    let iterations = 2_000 / c.rows.len().max(1);
    let mut samples: [Vec<f64>; 3] = Default::default();
    for _ in 0..REPETITIONS {
        for (i, encoding) in MdtEncoding::ALL.into_iter().enumerate() {
            let start = Instant::now();
            for _ in 0..iterations {
                out.clear();
                black_box(encoder.encode(black_box(c), encoding, MAX_TCP_MESSAGE, &mut out));
            }
            samples[i].push(start.elapsed().as_nanos() as f64 / (iterations * c.rows.len()) as f64);
        }
    }
    samples.map(|mut s| {
        s.sort_by(f64::total_cmp);
        s[s.len() / 2]
    })
}

fn report(case: &Case) {
    let rows = rows(case);
    let c = collection(case, &rows);
    let n = rows.len();
    let digits = |v: &u64| v.to_string().len();
    let nonzero = case
        .readings
        .iter()
        .flat_map(|r| r.counters.0)
        .filter(|v| *v != 0);
    let (low, high) = nonzero.fold((usize::MAX, 0), |(lo, hi), v| {
        (lo.min(digits(&v)), hi.max(digits(&v)))
    });
    println!(
        "\ngeneric-counters, {n} interfaces, counters: {}, non-zero ones of {low} to {high} digits (36 content fields a row)",
        case.label
    );
    println!(
        "{:<20} {:>9} {:>10} {:>9} {:>16} {:>10}",
        "encoding", "payload", "gRPC", "TCP", "UDP (datagrams)", "ns/row"
    );
    let mut sizes = Vec::new();
    let times = ns_per_row(&c);
    for (encoding, ns) in MdtEncoding::ALL.into_iter().zip(times) {
        let (whole, _) = messages(&c, encoding, MAX_TCP_MESSAGE);
        let payload = whole[0].payload.len();
        let grpc = 5 + MdtDialoutArgs {
            req_id: 77_598,
            data: whole[0].payload.to_vec(),
            ..Default::default()
        }
        .encoded_len();
        let tcp = HEADER_LEN + payload;
        let (datagrams, dropped) = messages(&c, encoding, DEFAULT_MAX_DATAGRAM - HEADER_LEN);
        let udp: usize = datagrams.iter().map(|m| HEADER_LEN + m.payload.len()).sum();
        println!(
            "{:<20} {:>7} B {:>8} B {:>7} B {:>8} B ({}{}) {:>10.0}",
            encoding.as_str(),
            payload,
            grpc,
            tcp,
            udp,
            datagrams.len(),
            if dropped > 0 {
                format!(", {dropped} rows dropped")
            } else {
                String::new()
            },
            ns
        );
        sizes.push(payload as f64);
    }
    println!(
        "kvGPB / compact: {:.1}x the bytes, {:.1}x the time; JSON / compact: {:.1}x the bytes",
        sizes[0] / sizes[1],
        times[0] / times[1],
        sizes[2] / sizes[1]
    );
}

fn main() {
    println!(
        "MDT encodings: bytes on the wire and encode time (ns per row: median of {REPETITIONS} interleaved batches)"
    );
    println!(
        "payload = the telemetry.Telemetry message (JSON text for json); gRPC = MdtDialoutArgs{{ReqId, data}} + the 5-byte gRPC prefix;"
    );
    println!(
        "TCP = 12-byte header + payload; UDP = datagrams of at most {DEFAULT_MAX_DATAGRAM} B, header in each."
    );
    println!(
        "Seed 001's 35 counters of 5 interfaces: its trace shows 7 counters a row (fields 50-56, packets/bytes in and out,"
    );
    println!(
        "multicast in and out, broadcast in), 7 x 5 = 35; the rest of the bag is zero on a clean router and proto3 leaves"
    );
    println!(
        "zeros out. nl6 sends the whole bag; 9 fields a row are non-zero here (also broadcast-packets-sent, last-data-time)."
    );
    for n in [5, 10] {
        report(&day_old(n));
    }
    for n in [5, 10] {
        report(&nl6_default(n));
    }
}
