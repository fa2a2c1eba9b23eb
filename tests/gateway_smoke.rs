//! The shortest path through the whole gateway: nsupdate adds a challenge value through
//! `serve`, the simulated CSC publishes it, and a delete takes it away again.

mod common;

use std::time::{Duration, Instant};

use common::SimProcess;
use common::gateway::{GatewayProcess, TestKey, nsupdate};

async fn wait_for_txt(sim: &SimProcess, key: &str, wanted: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut values = sim.txt_values("example.com", key).await;
        values.sort();
        if values == wanted {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "TXT at {key} is {values:?}, expected {wanted:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn nsupdate_adds_and_deletes_a_challenge_value() {
    let sim = SimProcess::start(&["--zones", "example.com", "--edit-seconds", "1"]);
    let key = TestKey::new("acme.", "hmac-sha256");
    let gateway = GatewayProcess::start(&sim, std::slice::from_ref(&key), "");
    let server = format!("server 127.0.0.1 {}\n", gateway.port());

    let added = nsupdate(
        &key,
        &format!("{server}update add _acme-challenge.example.com. 60 TXT \"tok-1\"\nsend\n"),
    );
    assert!(
        added.status.success(),
        "nsupdate failed: {}",
        String::from_utf8_lossy(&added.stderr)
    );
    wait_for_txt(&sim, "_acme-challenge", &["tok-1"]).await;

    let deleted = nsupdate(
        &key,
        &format!("{server}update delete _acme-challenge.example.com. TXT \"tok-1\"\nsend\n"),
    );
    assert!(
        deleted.status.success(),
        "nsupdate failed: {}",
        String::from_utf8_lossy(&deleted.stderr)
    );
    wait_for_txt(&sim, "_acme-challenge", &[]).await;
    assert_eq!(
        sim.txt_values("example.com", "@").await,
        vec!["v=spf1 include:_spf.example.com ~all"],
        "the SPF record is untouched"
    );
}
