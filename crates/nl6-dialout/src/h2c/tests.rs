//! The client against a scripted HTTP/2 server on a loopback socket.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::frame::{self, Head, Reason};
use super::{Client, Coalesce, ConnectionEnd, Http2Error, Phase, Request, Stream, StreamOutcome};
use crate::run::FlowStall;
use crate::session::ResponseCounter;

const WAIT: Duration = Duration::from_secs(10);

/// The server end: reads the client's frames, writes whatever a test scripts.
struct Peer {
    socket: TcpStream,
    encoder: loona_hpack::Encoder<'static>,
}

impl Peer {
    async fn frame(&mut self) -> (Head, Vec<u8>) {
        let mut head = [0u8; 9];
        tokio::time::timeout(WAIT, self.socket.read_exact(&mut head))
            .await
            .expect("a frame in time")
            .expect("read a frame");
        let head = Head::parse(&head);
        let mut payload = vec![0u8; head.len as usize];
        self.socket.read_exact(&mut payload).await.expect("payload");
        (head, payload)
    }

    /// The next frame of `kind`, skipping others (settings ACKs, window updates).
    async fn next(&mut self, kind: u8) -> (Head, Vec<u8>) {
        loop {
            let (head, payload) = self.frame().await;
            if head.kind == kind {
                return (head, payload);
            }
        }
    }

    async fn send(&mut self, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
        let mut out = Vec::new();
        frame::head(kind, flags, stream, payload.len()).put(&mut out, payload);
        self.socket.write_all(&out).await.expect("write");
    }

    async fn settings(&mut self, settings: &[(u16, u32)]) {
        let mut payload = Vec::new();
        for (id, value) in settings {
            payload.extend_from_slice(&id.to_be_bytes());
            payload.extend_from_slice(&value.to_be_bytes());
        }
        self.send(frame::SETTINGS, 0, 0, &payload).await;
    }

    fn block(&mut self, fields: &[(&str, &str)]) -> Vec<u8> {
        self.encoder
            .encode(fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
    }
}

/// A client connected to a scripted peer that already read the preface and the
/// client's SETTINGS and sent `settings`.
async fn connect(settings: &[(u16, u32)]) -> (Arc<Client>, Peer) {
    connect_coalescing(settings, None).await
}

/// [`connect`], the client coalescing with `coalesce`.
async fn connect_coalescing(
    settings: &[(u16, u32)],
    coalesce: Option<Coalesce>,
) -> (Arc<Client>, Peer) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = tokio::join!(
        async {
            let io = TcpStream::connect(addr).await.unwrap();
            Client::handshake(Box::new(io), None, coalesce)
                .await
                .unwrap()
        },
        listener.accept()
    );
    let mut peer = Peer {
        socket: accepted.unwrap().0,
        encoder: loona_hpack::Encoder::new(),
    };
    let mut preface = [0u8; 24];
    peer.socket.read_exact(&mut preface).await.unwrap();
    assert_eq!(&preface, frame::PREFACE);
    let (head, _) = peer.frame().await;
    assert_eq!(head.kind, frame::SETTINGS);
    peer.settings(settings).await;
    let mut phase = client.phase();
    tokio::time::timeout(WAIT, phase.wait_for(|p| matches!(p, Phase::Ready)))
        .await
        .expect("ready in time")
        .unwrap();
    (client, peer)
}

async fn open(client: &Arc<Client>, responses: Option<ResponseCounter>) -> Stream {
    let request = Request {
        https: false,
        authority: "127.0.0.1:1",
        path: "/test.Service/Publish",
        user_agent: "test",
        metadata: &[],
    };
    client.open(&request, responses).await.expect("a stream")
}

async fn finished(stream: &Stream) -> StreamOutcome {
    tokio::time::timeout(WAIT, stream.finished())
        .await
        .expect("the stream ends in time")
}

#[tokio::test]
async fn a_message_waits_for_window_and_arrives_whole_in_frames() {
    let (client, mut peer) = connect(&[(frame::SETTINGS_INITIAL_WINDOW_SIZE, 100)]).await;
    let stream = open(&client, None).await;
    let (head, _) = peer.next(frame::HEADERS).await;
    assert_eq!(head.flags & frame::END_HEADERS, frame::END_HEADERS);
    assert_eq!(client.flow_stall(), FlowStall::default(), "no wait yet");
    let message = Bytes::from((0..40_000u32).map(|i| i as u8).collect::<Vec<_>>());
    let send = tokio::spawn(async move {
        stream.send(&message).await.map_err(|_| "send failed")?;
        Ok::<_, &str>((stream, message))
    });
    let mut got = Vec::new();
    while got.len() < 100 {
        got.extend(peer.next(frame::DATA).await.1);
    }
    assert_eq!(got.len(), 100, "no more than the stream window");
    assert!(!send.is_finished());
    let credit = 50_000u32.to_be_bytes();
    peer.send(frame::WINDOW_UPDATE, 0, head.stream, &credit)
        .await;
    while got.len() < 40_005 {
        let (data, payload) = peer.next(frame::DATA).await;
        assert!(data.len <= frame::DEFAULT_MAX_FRAME);
        got.extend(payload);
    }
    let (_stream, message) = send.await.unwrap().unwrap();
    assert_eq!(got[..5], [0, 0, 0, 0x9c, 0x40]);
    assert_eq!(got[5..], message[..]);
    let stall = client.flow_stall();
    assert_eq!(stall.waits, 1, "one wait for the window: {stall:?}");
    assert!(stall.nanos > 0);
}

#[tokio::test]
async fn responses_are_counted_and_trailers_end_the_call() {
    let (client, mut peer) = connect(&[]).await;
    let counter = ResponseCounter::detached();
    let stream = open(&client, Some(counter.clone())).await;
    let (head, _) = peer.next(frame::HEADERS).await;
    let block = peer.block(&[(":status", "200"), ("content-type", "application/grpc")]);
    peer.send(frame::HEADERS, frame::END_HEADERS, head.stream, &block)
        .await;
    // Two messages: an empty one, then 3 bytes split over two padded DATA frames.
    peer.send(
        frame::DATA,
        0,
        head.stream,
        &[0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 1],
    )
    .await;
    peer.send(frame::DATA, frame::PADDED, head.stream, &[2, 2, 3, 0, 0])
        .await;
    let trailers = peer.block(&[("grpc-status", "0")]);
    let (first, rest) = trailers.split_at(1);
    peer.send(frame::HEADERS, frame::END_STREAM, head.stream, first)
        .await;
    peer.send(frame::CONTINUATION, frame::END_HEADERS, head.stream, rest)
        .await;
    match finished(&stream).await {
        StreamOutcome::Final { fields, trailers } => {
            assert!(trailers);
            assert_eq!(fields.headers["grpc-status"], "0");
        }
        other => panic!("not trailers: {other:?}"),
    }
    assert_eq!(counter.get(), 2);
}

#[tokio::test]
async fn a_reset_fails_its_stream_and_the_connection_goes_on() {
    let (client, mut peer) = connect(&[]).await;
    let stream = open(&client, None).await;
    let (head, _) = peer.next(frame::HEADERS).await;
    peer.send(frame::RST_STREAM, 0, head.stream, &8u32.to_be_bytes())
        .await;
    assert!(matches!(
        finished(&stream).await,
        StreamOutcome::Failed(e) if matches!(*e, Http2Error::Reset(Reason::CANCEL))
    ));
    assert!(stream.send(&Bytes::from_static(b"x")).await.is_err());
    let second = open(&client, None).await;
    let (next, _) = peer.next(frame::HEADERS).await;
    assert_eq!(next.stream, head.stream + 2);
    second.send(&Bytes::from_static(b"hi")).await.unwrap();
    assert_eq!(peer.next(frame::DATA).await.1, [0, 0, 0, 0, 2, b'h', b'i']);
}

#[tokio::test]
async fn pings_are_answered_and_dropping_a_stream_cancels_it() {
    let (client, mut peer) = connect(&[]).await;
    peer.send(frame::PING, 0, 0, b"12345678").await;
    let (head, payload) = peer.next(frame::PING).await;
    assert_eq!((head.flags, &payload[..]), (frame::ACK, &b"12345678"[..]));
    let stream = open(&client, None).await;
    let (opened, _) = peer.next(frame::HEADERS).await;
    drop(stream);
    let (rst, payload) = peer.next(frame::RST_STREAM).await;
    assert_eq!(
        (rst.stream, &payload[..]),
        (opened.stream, &8u32.to_be_bytes()[..])
    );
    drop(client);
    let (_, goaway) = peer.next(frame::GOAWAY).await;
    assert_eq!(goaway[4..8], 0u32.to_be_bytes(), "NO_ERROR");
}

#[tokio::test]
async fn a_goaway_with_an_error_fails_every_stream_and_names_the_code() {
    let (client, mut peer) = connect(&[]).await;
    let stream = open(&client, None).await;
    let (head, _) = peer.next(frame::HEADERS).await;
    let mut goaway = head.stream.to_be_bytes().to_vec();
    goaway.extend_from_slice(&Reason::ENHANCE_YOUR_CALM.0.to_be_bytes());
    goaway.extend_from_slice(b"too_many_pings");
    peer.send(frame::GOAWAY, 0, 0, &goaway).await;
    let StreamOutcome::Failed(error) = finished(&stream).await else {
        panic!("not failed");
    };
    assert_eq!(
        error.to_string(),
        "the collector sent GOAWAY ENHANCE_YOUR_CALM (too_many_pings)"
    );
    drop(peer);
    let mut phase = client.phase();
    let phase = tokio::time::timeout(WAIT, phase.wait_for(|p| matches!(p, Phase::Ended(..))))
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        &*phase,
        Phase::Ended(ConnectionEnd::GoAway(Reason::ENHANCE_YOUR_CALM), _)
    ));
}

#[tokio::test]
async fn an_oversized_frame_ends_the_connection_with_frame_size_error() {
    let (client, mut peer) = connect(&[]).await;
    let stream = open(&client, None).await;
    let (head, _) = peer.next(frame::HEADERS).await;
    peer.send(frame::DATA, 0, head.stream, &vec![0u8; 20_000])
        .await;
    let (_, goaway) = peer.next(frame::GOAWAY).await;
    assert_eq!(goaway[4..8], Reason::FRAME_SIZE_ERROR.0.to_be_bytes());
    let StreamOutcome::Failed(error) = finished(&stream).await else {
        panic!("not failed");
    };
    assert!(
        error.to_string().contains("larger than the 16384"),
        "{error}"
    );
    assert!(client.is_closed());
}

/// Waits until `condition` holds, polling every few milliseconds, for at most [`WAIT`].
async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A settled coalescing stream: opened, answered with response headers, and a frame
/// read after the settle time (the peer's ping), so the reader raised the mark.
async fn settled_stream(
    client: &Arc<Client>,
    peer: &mut Peer,
    responses: Option<ResponseCounter>,
) -> (Stream, u32) {
    let stream = open(client, responses).await;
    let (head, _) = peer.next(frame::HEADERS).await;
    let block = peer.block(&[(":status", "200"), ("content-type", "application/grpc")]);
    peer.send(frame::HEADERS, frame::END_HEADERS, head.stream, &block)
        .await;
    tokio::time::sleep(SETTLE).await;
    peer.send(frame::PING, 0, 0, b"settled!").await;
    peer.next(frame::PING).await;
    wait_until("the reader coalesces", || client.is_coalescing()).await;
    (stream, head.stream)
}

const SETTLE: Duration = Duration::from_millis(50);

/// Coalescing with no sweep within a test: only the reader's own triggers (a writer
/// short of window, a closing stream, a closed socket) can lower the mark.
const NO_SWEEP: Coalesce = Coalesce {
    settle: SETTLE,
    sweep: Duration::from_secs(3600),
};

#[tokio::test]
async fn coalesced_responses_are_read_at_the_next_sweep() {
    let coalesce = Coalesce {
        settle: SETTLE,
        sweep: Duration::from_millis(300),
    };
    let (client, mut peer) = connect_coalescing(&[], Some(coalesce)).await;
    let counter = ResponseCounter::detached();
    let (_stream, id) = settled_stream(&client, &mut peer, Some(counter.clone())).await;
    for _ in 0..3 {
        peer.send(frame::DATA, 0, id, &[0, 0, 0, 0, 0]).await;
    }
    wait_until("three responses counted", || counter.get() == 3).await;
}

#[tokio::test]
async fn a_writer_short_of_window_has_the_reader_read_at_once() {
    let settings = [(frame::SETTINGS_INITIAL_WINDOW_SIZE, 40_000)];
    let (client, mut peer) = connect_coalescing(&settings, Some(NO_SWEEP)).await;
    let (stream, id) = settled_stream(&client, &mut peer, None).await;
    let message = Bytes::from(vec![7u8; 15_000]);
    stream.send(&message).await.unwrap();
    assert!(
        client.is_coalescing(),
        "24,995 bytes left hold another message"
    );
    stream.send(&message).await.unwrap();
    wait_until("the reader stops coalescing", || !client.is_coalescing()).await;
    let send = tokio::spawn(async move { stream.send(&message).await.is_ok() });
    peer.send(frame::WINDOW_UPDATE, 0, id, &40_000u32.to_be_bytes())
        .await;
    let sent = tokio::time::timeout(WAIT, send).await;
    assert!(matches!(sent, Ok(Ok(true))), "the third message went out");
}

#[tokio::test]
async fn closing_a_stream_reads_the_collectors_final_word_at_once() {
    let (client, mut peer) = connect_coalescing(&[], Some(NO_SWEEP)).await;
    let (stream, id) = settled_stream(&client, &mut peer, None).await;
    stream.end().await.unwrap();
    let (head, _) = peer.next(frame::DATA).await;
    assert_eq!(head.flags & frame::END_STREAM, frame::END_STREAM);
    let trailers = peer.block(&[("grpc-status", "0")]);
    peer.send(
        frame::HEADERS,
        frame::END_STREAM | frame::END_HEADERS,
        id,
        &trailers,
    )
    .await;
    assert!(matches!(
        finished(&stream).await,
        StreamOutcome::Final { trailers: true, .. }
    ));
}

#[tokio::test]
async fn a_closed_connection_is_seen_at_once_while_coalescing() {
    let (client, mut peer) = connect_coalescing(&[], Some(NO_SWEEP)).await;
    let (stream, _) = settled_stream(&client, &mut peer, None).await;
    drop(peer);
    assert!(matches!(finished(&stream).await, StreamOutcome::Failed(_)));
}
