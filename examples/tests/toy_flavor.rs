//! The toy flavor of `examples/toy_flavor.rs`, registered in a fleet, used through the
//! REST API of an embedded server.

#[path = "../toy_flavor.rs"]
mod toy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedders_flavor_works_through_the_fleet_and_rest() {
    let sink = toy::run().await.expect("the example runs");
    let seen = sink.seen.lock();
    let targets: Vec<&str> = seen.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(targets, ["127.78.0.1", "127.78.0.2", "127.78.0.3"]);
    for (target, peer) in seen.iter() {
        assert_eq!(target, peer, "each device dials from its own address");
    }
}
