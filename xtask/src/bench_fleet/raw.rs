//! The raw baseline: same notifications, one plain TCP socket, one loop.

use super::*;

/// Median of the raw rounds of one encoding.
pub(super) struct RawResult {
    pub(super) cpu_per_mleaf: f64,
    pub(super) leaves_per_s: f64,
    pub(super) bytes_per_message: f64,
}

/// One device of the raw loop: its model, encoder and target.
pub(super) struct RawDevice {
    pub(super) model: Arc<DeviceModel>,
    pub(super) encoder: WireEncoder,
    pub(super) target: String,
}

pub(super) fn raw_baseline(enc: Enc, sizes: &Sizes) -> Result<RawResult> {
    let path = nl6_gnmi::parse_path(STATE_PATH).map_err(|e| anyhow!("{STATE_PATH}: {e}"))?;
    let mut devices = Vec::with_capacity(RAW_DEVICES);
    for i in 0..RAW_DEVICES as u32 {
        let spec = DeviceSpec {
            seed: u64::from(i),
            interfaces: INTERFACES,
            ..DeviceSpec::default()
        };
        let model = Arc::new(DeviceModel::new(&spec).map_err(|e| anyhow!("device spec: {e}"))?);
        devices.push(RawDevice {
            encoder: WireEncoder::new(model.names()),
            model,
            target: Ipv4Addr::from(u32::from(START_IP) + i).to_string(),
        });
    }
    let selection = Selection::compile(None, &[path], devices[0].model.names())
        .map_err(|e| anyhow!("compiling {STATE_PATH}: {e}"))?;
    if selection.leaf_count() as u64 != LEAVES_PER_DEVICE {
        bail!("{STATE_PATH} selects {} leaves", selection.leaf_count());
    }
    let mut rounds = Vec::new();
    for _ in 0..sizes.raw_rounds {
        rounds.push(raw_round(
            enc.value_encoding(),
            &mut devices,
            &selection,
            sizes.raw_round,
        )?);
    }
    let result = RawResult {
        cpu_per_mleaf: median(rounds.iter().map(|r| r.cpu_per_mleaf)),
        leaves_per_s: median(rounds.iter().map(|r| r.leaves_per_s)),
        bytes_per_message: median(rounds.iter().map(|r| r.bytes_per_message)),
    };
    eprintln!(
        "==> raw baseline {}: {:.3} CPU-s/M leaves, {:.0} leaves/s on one thread, {:.0} B/message",
        enc.flag(),
        result.cpu_per_mleaf,
        result.leaves_per_s,
        result.bytes_per_message
    );
    Ok(result)
}

/// Encodes and writes for `duration` on this thread; CPU is this thread's only.
pub(super) fn raw_round(
    encoding: ValueEncoding,
    devices: &mut [RawDevice],
    selection: &Selection,
    duration: Duration,
) -> Result<RawResult> {
    let listener = TcpListener::bind("127.0.0.1:0").context("raw sink: bind")?;
    let addr = listener.local_addr()?;
    let sink = std::thread::spawn(move || -> std::io::Result<u64> {
        let (mut conn, _) = listener.accept()?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        loop {
            match conn.read(&mut buf)? {
                0 => return Ok(total),
                n => total += n as u64,
            }
        }
    });
    let mut conn = TcpStream::connect(addr).context("raw sink: connect")?;
    conn.set_nodelay(true)?;
    let (mut leaves, mut bytes, mut messages) = (0u64, 0u64, 0u64);
    let cpu_start = thread_cpu_seconds();
    let start = Instant::now();
    while start.elapsed() < duration {
        for dev in devices.iter_mut() {
            let snapshot = Snapshot::capture(&dev.model, unix_now_ns(), selection);
            // A gRPC-style 5-byte frame header in front, then the response, as dial-out
            // builds it: a fresh buffer per message.
            let mut frame = Vec::new();
            frame.extend_from_slice(&[0; 5]);
            let updates = dev.encoder.encode_response(
                &snapshot,
                selection.masks(),
                encoding,
                Some(&dev.target),
                &mut frame,
            );
            let len = u32::try_from(frame.len() - 5).context("message over 4 GiB")?;
            frame[1..5].copy_from_slice(&len.to_be_bytes());
            conn.write_all(&frame).context("raw sink: write")?;
            leaves += updates as u64;
            bytes += frame.len() as u64;
            messages += 1;
        }
    }
    let cpu = thread_cpu_seconds() - cpu_start;
    let wall = start.elapsed().as_secs_f64();
    drop(conn);
    let received = sink
        .join()
        .map_err(|_| anyhow!("raw sink thread panicked"))?
        .context("raw sink: read")?;
    if received != bytes {
        bail!("raw sink received {received} of {bytes} bytes");
    }
    Ok(RawResult {
        cpu_per_mleaf: cpu / (leaves as f64 / 1e6),
        leaves_per_s: leaves as f64 / wall,
        bytes_per_message: bytes as f64 / messages as f64,
    })
}
