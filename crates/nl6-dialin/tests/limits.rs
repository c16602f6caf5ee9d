//! Bounded work per request, attacked over real sockets on 127/8: each hostile request
//! is refused (or answered) with the right code and a short message, and while two
//! attackers hammer device A, a well-behaved client of device B gets every Get answered
//! within 1 s.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use nl6_dialin::{
    MAX_GET_LEAVES, MAX_PATHS_PER_GET, MAX_REQUEST_BYTES, MAX_SUBSCRIPTIONS_PER_REQUEST,
};
use nl6_gnmi::parse_path;
use nl6_gnmi::path::MAX_PATH_ELEMS;
use nl6_gnmi::proto::gnmi::get_request::DataType;
use nl6_gnmi::proto::gnmi::subscription_list::Mode;
use nl6_gnmi::proto::gnmi::{Encoding, GetRequest, Path, PathElem, SubscriptionMode};
use support::*;
use tonic::Code;

/// How long the well-behaved client's Get may take while the attack runs.
const FAIR_SHARE: Duration = Duration::from_secs(1);

/// Most requests one attacker sends; it stops earlier once the victim check is done, and
/// after twice [`DEADLINE`] in any case.
const MAX_ATTACKS: usize = 100_000;

/// A path of `n` copies of the element `name`, as a client can send it (no text).
fn repeated(name: &str, n: usize) -> Path {
    Path {
        elem: vec![
            PathElem {
                name: name.to_string(),
                key: Default::default(),
            };
            n
        ],
        ..Default::default()
    }
}

fn get_of(paths: Vec<Path>) -> GetRequest {
    GetRequest {
        path: paths,
        r#type: DataType::All as i32,
        encoding: Encoding::Proto as i32,
        ..GetRequest::default()
    }
}

/// What an attack request must get: a code and, for errors, words of the message.
struct Expect {
    request: GetRequest,
    code: Code,
    words: &'static str,
}

/// Attackers per test: more than the test runtime's 2 worker threads, so a request that
/// blocks a thread for long would starve everyone.
const ATTACKERS: usize = 4;

/// Runs [`ATTACKERS`] clients cycling through `attacks` against device A and, while
/// they run (until they have sent about every kind each), Gets of a well-behaved
/// client of device B, each of which must be answered within [`FAIR_SHARE`]. Every
/// attack answer is checked: code, words and a message shorter than 1 KiB.
async fn under_attack(h: &Harness, attacks: Vec<Expect>) {
    let mut victim = h.client(DEV_B).await;
    let attacks = Arc::new(attacks);
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut attackers: Vec<tokio::task::JoinHandle<usize>> = Vec::new();
    for _ in 0..ATTACKERS {
        let mut client = h.client(DEV_A).await;
        let (attacks, stop, answered) = (attacks.clone(), stop.clone(), answered.clone());
        attackers.push(tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            let mut sent = 0;
            while !stop.load(Ordering::Relaxed)
                && sent < MAX_ATTACKS
                && started.elapsed() < 2 * DEADLINE
            {
                let attack = &attacks[sent % attacks.len()];
                let code = match client.get(attack.request.clone()).await {
                    Ok(_) => Code::Ok,
                    Err(status) => {
                        assert!(
                            status.message().len() < 1024,
                            "{} bytes of message",
                            status.message().len()
                        );
                        assert!(
                            status.message().contains(attack.words),
                            "{:?} lacks {:?}",
                            status.message(),
                            attack.words
                        );
                        status.code()
                    }
                };
                assert_eq!(code, attack.code, "attack #{}", sent % attacks.len());
                sent += 1;
                answered.fetch_add(1, Ordering::Relaxed);
            }
            sent
        }));
    }
    wait_until("the attack to get going", || {
        answered.load(Ordering::Relaxed) >= attacks.len()
            || attackers.iter().any(|a| a.is_finished())
    })
    .await;

    let oper = parse_path("/interfaces/interface[name=Ethernet1]/state/oper-status").unwrap();
    let enough = ATTACKERS * attacks.len();
    let mut round = 0;
    within("the attackers' rounds", async {
        while round < 5 || answered.load(Ordering::Relaxed) < enough {
            if let Some(done) = attackers.iter_mut().find(|a| a.is_finished()) {
                let sent = done.await.expect("an attacker failed");
                panic!("an attacker stopped after {sent} requests, before the victim's check");
            }
            let answer = tokio::time::timeout(FAIR_SHARE, victim.get(get_of(vec![oper.clone()])))
                .await
                .unwrap_or_else(|_| panic!("Get #{round} of device B took over {FAIR_SHARE:?}"))
                .expect("Get of device B answered");
            assert_eq!(answer.into_inner().notification[0].update.len(), 1);
            round += 1;
        }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for attacker in attackers {
        let sent = within("an attacker to stop", attacker)
            .await
            .expect("an attacker failed");
        assert!(sent >= 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row1_any_depth_paths_are_linear_or_refused() {
    let h = Harness::start(test_config()).await;
    under_attack(
        &h,
        vec![
            Expect {
                // At the limit: answered (the backtracking matcher took seconds here).
                request: get_of(vec![repeated("...", MAX_PATH_ELEMS)]),
                code: Code::Ok,
                words: "",
            },
            Expect {
                request: get_of(vec![repeated("...", 80)]),
                code: Code::InvalidArgument,
                words: "path has 80 elements; the limit is 64 elements per path",
            },
            Expect {
                request: get_of(vec![repeated("...", 10_000)]),
                code: Code::InvalidArgument,
                words: "path has 10000 elements; the limit is 64",
            },
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row2_many_paths_and_a_huge_target_are_refused() {
    let h = Harness::start(test_config()).await;
    let mut huge_target = get_of(vec![parse_path("/interfaces").unwrap()]);
    huge_target.prefix = Some(Path {
        target: "t".repeat(1 << 20),
        ..Path::default()
    });
    // Each root path selects the whole device (4 interfaces × 17 leaves).
    let roots = MAX_GET_LEAVES / 68 + 1;
    assert!(roots <= MAX_PATHS_PER_GET);
    under_attack(
        &h,
        vec![
            Expect {
                request: get_of(vec![Path::default(); 10_000]),
                code: Code::ResourceExhausted,
                words: "GetRequest.path has 10000 paths; the limit is 1000 paths per Get",
            },
            Expect {
                request: get_of(vec![Path::default(); roots]),
                code: Code::ResourceExhausted,
                words: "the limit is 50000 per GetResponse",
            },
            Expect {
                request: huge_target,
                code: Code::InvalidArgument,
                words: "prefix.target is 1048576 bytes; the limit is 256 bytes",
            },
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row8_huge_paths_get_short_errors() {
    let h = Harness::start(test_config()).await;
    let big = 1_800_000;
    let one_long_name = repeated(&"a".repeat(big), 1);
    let mut long_value = parse_path("/interfaces/interface[name=x]").unwrap();
    long_value.elem[1]
        .key
        .insert("name".to_string(), "e".repeat(big));
    // Within every path limit (~650 KB of text) but naming nothing: NOT_FOUND, quoted cut.
    let keys = (0..8)
        .map(|i| (format!("k{i}"), "v".repeat(1024)))
        .collect();
    let widest = Path {
        elem: vec![
            PathElem {
                name: "x".repeat(256),
                key: keys,
            };
            MAX_PATH_ELEMS
        ],
        ..Path::default()
    };
    under_attack(
        &h,
        vec![
            Expect {
                // 90,000 elements of 19 bytes: 1.8 MB as text.
                request: get_of(vec![repeated(&"a".repeat(19), big / 20)]),
                code: Code::InvalidArgument,
                words: "path has 90000 elements",
            },
            Expect {
                request: get_of(vec![one_long_name]),
                code: Code::InvalidArgument,
                words: "the name of elem[0] is 1800000 bytes; the limit is 256 bytes",
            },
            Expect {
                request: get_of(vec![long_value]),
                code: Code::InvalidArgument,
                words: "the value of key \"name\" of elem[1] is 1800000 bytes",
            },
            Expect {
                request: get_of(vec![widest]),
                code: Code::NotFound,
                words: "bytes) does not exist on this device",
            },
        ],
    )
    .await;
}

#[tokio::test]
async fn requests_over_the_message_size_limit_are_refused() {
    let h = Harness::start(test_config()).await;
    let mut client = h.client(DEV_A).await;
    let mut request = get_of(vec![parse_path("/interfaces").unwrap()]);
    request.prefix = Some(Path {
        target: "t".repeat(MAX_REQUEST_BYTES + 1),
        ..Path::default()
    });
    let status = within("an oversized Get", client.get(request))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert!(status.message().contains("4194304"), "{}", status.message());
    // The connection still serves.
    let mut ok = h.client(DEV_A).await;
    ok.get(get_of(vec![parse_path("/interfaces").unwrap()]))
        .await
        .expect("a normal Get after the oversized one");
}

#[tokio::test]
async fn subscribe_limits_name_the_limit() {
    let h = Harness::start(test_config()).await;
    let mut client = h.client(DEV_A).await;
    let one = sub("/interfaces", SubscriptionMode::Sample, Duration::ZERO);
    let mut deep = one.clone();
    deep.path = Some(repeated("...", 10_000));
    let mut huge_target = list(Mode::Once, vec![one.clone()]);
    huge_target.prefix = Some(Path {
        target: "t".repeat(1 << 20),
        ..Path::default()
    });
    let cases = [
        (
            list(
                Mode::Once,
                vec![one.clone(); MAX_SUBSCRIPTIONS_PER_REQUEST + 1],
            ),
            Code::ResourceExhausted,
            "SubscriptionList.subscription has 1001 subscriptions; the limit is 1000",
        ),
        (
            list(Mode::Stream, vec![deep]),
            Code::InvalidArgument,
            "path has 10000 elements; the limit is 64",
        ),
        (
            huge_target,
            Code::InvalidArgument,
            "prefix.target is 1048576 bytes; the limit is 256 bytes",
        ),
    ];
    for (first, code, words) in cases {
        let status = open(&mut client, subscribe_req(first))
            .await
            .err()
            .expect("rejected");
        assert_eq!(status.code(), code, "{status:?}");
        assert!(status.message().contains(words), "{}", status.message());
        assert!(status.message().len() < 1024, "{}", status.message().len());
    }
    // At the limit, ONCE is served.
    let mut ok = open(
        &mut client,
        subscribe_req(list(Mode::Once, vec![one; MAX_SUBSCRIPTIONS_PER_REQUEST])),
    )
    .await
    .expect("1,000 subscriptions are accepted");
    assert_eq!(next(&mut ok.rx).await.update().update.len(), 4 * 17);
    assert!(matches!(next(&mut ok.rx).await, Msg::Sync));
}
