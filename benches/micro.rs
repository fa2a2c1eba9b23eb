//! Micro-benchmarks (criterion) of the DNS path's pure steps; results in BENCHMARKS.md.
//!
//! - `tsig_verify/<alg>`: [`tsig::verify`] of a signed certbot-style UPDATE, per algorithm (the
//!   message is signed once with the crate's client-side [`tsig::sign_request`]).
//! - `update/parse`: hickory's `Request::from_bytes` of that signed UPDATE;
//!   `update/parse_and_policy`: the same, then the zone section, the key's grant and the plan
//!   of engine operations (`update::zone_section`, `check_permission`, `plan_operations`).
//! - `diff/<n>_ops`: `engine::diff::desired_txt` + `net_edit` of a batch of n operations (half
//!   adds, half deletes of earlier adds, plus one foreign-safe RRset delete) over a zone with
//!   50 TXT records.
//!
//! Run: `cargo bench --bench micro` (about 1 minute); one group: `cargo bench --bench micro -- diff`.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;

use csc_rfc2136::config::{KeyConfig, KeySecret, NamePattern, TsigAlgorithm};
use csc_rfc2136::dns::tsig::{self, ClientKey, KeyRing, TsigVerdict};
use csc_rfc2136::dns::update;
use csc_rfc2136::engine::change::Op;
use csc_rfc2136::engine::diff::{self, TxtSet};

const KEY_NAME: &str = "acme-client.";
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const NOW: u64 = 1_700_000_000;
const ZONE: &str = "example.com";

/// What certbot's rfc2136 plugin sends: an UPDATE of example.com adding one TXT record (a
/// 43-character token) at `_acme-challenge.www.example.com`, TTL 10, no prerequisites.
fn certbot_update() -> Vec<u8> {
    let mut m = vec![0x4A, 0x11, 0x28, 0x00, 0, 1, 0, 0, 0, 1, 0, 0];
    m.extend_from_slice(b"\x07example\x03com\x00\x00\x06\x00\x01");
    m.extend_from_slice(b"\x0f_acme-challenge\x03www\xc0\x0c\x00\x10\x00\x01\x00\x00\x00\x0a");
    let token = b"W2CHo3R3hXk1dyQ9-iyqVqYzS0fOJ1kYqL6d5hQkJfM";
    m.extend_from_slice(&u16::try_from(token.len() + 1).unwrap().to_be_bytes());
    m.push(u8::try_from(token.len()).unwrap());
    m.extend_from_slice(token);
    m
}

fn signed_update(algorithm: TsigAlgorithm) -> Vec<u8> {
    let key = ClientKey::new(KEY_NAME, algorithm, SECRET).expect("client key");
    tsig::sign_request(&certbot_update(), &key, NOW, 300, None)
        .expect("sign")
        .message
}

fn bench_tsig_verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("tsig_verify");
    group
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(30);
    for algorithm in TsigAlgorithm::ALL {
        let ring = KeyRing::default().with_key(KEY_NAME, algorithm, vec![SECRET.to_vec()]);
        let message = signed_update(algorithm);
        assert!(
            matches!(tsig::verify(&message, &ring, NOW), TsigVerdict::Signed(_)),
            "the benchmark message verifies with {algorithm:?}"
        );
        group.bench_with_input(
            BenchmarkId::from_parameter(algorithm.config_name()),
            &message,
            |b, message| b.iter(|| tsig::verify(black_box(message), &ring, NOW)),
        );
    }
    group.finish();
}

fn grant() -> KeyConfig {
    KeyConfig {
        name: KEY_NAME.into(),
        algorithm: TsigAlgorithm::HmacSha256,
        secrets: vec![KeySecret::new(SECRET.to_vec())],
        zones: Some(vec![ZONE.into()]),
        names: vec![NamePattern::default_acme()],
        types: vec!["TXT".into()],
        delete_foreign: false,
    }
}

/// Parse, zone section, grant, plan: what the gateway does with an UPDATE before the journal.
fn parse_and_plan(raw: Vec<u8>, src: SocketAddr, grant: &KeyConfig) -> Vec<Op> {
    let request = Request::from_bytes(raw, src, Protocol::Udp).expect("parses");
    let zone = update::zone_of(request.queries.queries()).expect("zone section");
    update::check_permission(&request.authorities, &zone, grant).expect("granted");
    update::plan_operations(&request.authorities, &zone, grant.delete_foreign).expect("plan")
}

fn bench_update(c: &mut Criterion) {
    let mut group = c.benchmark_group("update");
    group
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(30);
    let message = signed_update(TsigAlgorithm::HmacSha256);
    let src: SocketAddr = "127.0.0.1:40000".parse().expect("address");
    let grant = grant();
    assert_eq!(parse_and_plan(message.clone(), src, &grant).len(), 1);
    group.bench_function("parse", |b| {
        b.iter_batched(
            || message.clone(),
            |raw| Request::from_bytes(raw, src, Protocol::Udp).expect("parses"),
            criterion::BatchSize::SmallInput,
        )
    });
    group.bench_function("parse_and_policy", |b| {
        b.iter_batched(
            || message.clone(),
            |raw| parse_and_plan(raw, src, &grant),
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// A zone with 50 TXT records: SPF and verification records at the apex and on hosts, and
/// challenge values of other certificates.
fn zone_txt() -> TxtSet {
    let mut set = TxtSet::new();
    for i in 0..50 {
        let (name, value) = match i % 5 {
            0 => (
                ZONE.to_owned(),
                format!("google-site-verification=token{i:04}"),
            ),
            1 => (format!("host{i}.{ZONE}"), "v=spf1 -all".to_owned()),
            _ => (
                format!("_acme-challenge.host{i}.{ZONE}"),
                format!("existing-challenge-value-{i:04}-abcdefghijklmnopqrstuv"),
            ),
        };
        set.entry(name).or_default().insert(value);
    }
    set
}

/// A batch of `n` operations: adds of new challenge values, deletes of half of them (they
/// cancel out), and one RRset delete of another certificate's name.
fn batch(n: usize) -> Vec<Op> {
    let mut ops = Vec::with_capacity(n);
    let adds = n / 2;
    for i in 0..adds {
        ops.push(Op::Add {
            name: format!("_acme-challenge.new{i}.{ZONE}"),
            value: format!("new-challenge-value-{i:04}-abcdefghijklmnopqrstuvwxyz0"),
        });
    }
    for i in 0..n - adds - 1 {
        ops.push(Op::DeleteValue {
            name: format!("_acme-challenge.new{i}.{ZONE}"),
            value: format!("new-challenge-value-{i:04}-abcdefghijklmnopqrstuvwxyz0"),
        });
    }
    ops.push(Op::DeleteRrset {
        name: format!("_acme-challenge.host2.{ZONE}"),
        foreign: false,
    });
    ops
}

fn bench_diff(c: &mut Criterion) {
    let mut group = c.benchmark_group("diff");
    group
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(30);
    let current = zone_txt();
    for n in [10, 100] {
        let ops = batch(n);
        assert_eq!(ops.len(), n);
        let owned = |name: &str, _value: &str| name.starts_with("_acme-challenge.host2.");
        let desired = diff::desired_txt(&current, &ops, owned);
        let items = diff::net_edit(ZONE, &current, &desired, 300);
        assert!(!items.is_empty(), "the batch changes something");
        group.bench_with_input(BenchmarkId::new("ops", n), &ops, |b, ops| {
            b.iter(|| {
                let desired = diff::desired_txt(black_box(&current), ops, owned);
                diff::net_edit(ZONE, &current, &desired, 300)
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = bench_tsig_verify, bench_update, bench_diff
}
criterion_main!(benches);
