//! The gateway's request handler: TSIG first, then a query answered from the desired view or an
//! UPDATE checked and handed to the engine; every reply signed when the request was.
//!
//! Every refusal is logged with the source, the key and the reason, so an operator can tell a
//! misconfigured client from an attack.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{MessageType, Metadata, OpCode, ResponseCode};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;

use crate::config::KeyConfig;
use crate::dns::answer::{Answer, ZoneData, ZoneView};
use crate::dns::listener::Handler;
use crate::dns::replay::{Claim, ReplayCache, ReplayKey};
use crate::dns::reply;
use crate::dns::tsig::{self, KeyRing, TsigVerdict};
use crate::dns::update::{self, Refusal};
use crate::engine::{Engine, ViewVersion};
use crate::ops::{audit, metrics};

/// The largest Other Data a reply TSIG carries (BADTIME's 6-byte server time).
const MAX_OTHER: usize = 6;

/// How long a copy of a request being answered waits for the first copy's reply (the first
/// may wait on CSC for up to `reply_timeout` in `accepted` mode; clients give up sooner).
const REPLAY_WAIT: Duration = Duration::from_secs(45);

/// The gateway's DNS request handler.
pub struct Gateway {
    engine: Engine,
    keyring: KeyRing,
    /// Grants by canonical key name.
    grants: HashMap<String, KeyConfig>,
    replays: ReplayCache,
    /// The last view built per zone, reused while the engine reports the same inputs: a query
    /// then costs a lookup instead of a copy and index of the whole zone.
    views: Mutex<HashMap<String, (ViewVersion, Arc<ZoneView>)>>,
}

impl Gateway {
    /// A handler for `keys` in front of `engine`.
    pub fn new(engine: Engine, keys: &[KeyConfig]) -> Gateway {
        Gateway {
            engine,
            keyring: KeyRing::new(keys),
            grants: keys
                .iter()
                .map(|k| (k.canonical_name(), k.clone()))
                .collect(),
            replays: ReplayCache::new(ReplayCache::DEFAULT_TTL, ReplayCache::DEFAULT_CAPACITY),
            views: Mutex::new(HashMap::new()),
        }
    }

    async fn respond(&self, raw: Vec<u8>, src: SocketAddr, protocol: Protocol) -> Option<Vec<u8>> {
        let now = unix_now();
        let verdict = tsig::verify(&raw, &self.keyring, now);
        let header: Vec<u8> = raw.iter().take(12).copied().collect();
        let request = match Request::from_bytes(raw, src, protocol) {
            Ok(request) => request,
            Err(err) => {
                tracing::info!(%src, ?protocol, error = %err, "FORMERR: malformed message");
                return reply::formerr_from_raw(&header);
            }
        };
        if request.metadata.message_type != MessageType::Query {
            return None; // a response sent to us: never answer it
        }
        let key_name = verdict
            .request_tsig()
            .map(|t| t.key_name())
            .unwrap_or_else(|| "-".into());
        if let Some(rcode) = verdict.error_rcode() {
            tracing::warn!(%src, key = %key_name, ?protocol, verdict = ?verdict_kind(&verdict), %rcode, "request refused by the TSIG check");
            metrics::tsig_failure(verdict_kind(&verdict));
            if request.metadata.op_code == OpCode::Update {
                audit::update(&audit::UpdateEvent {
                    src,
                    transport: transport_name(protocol),
                    key: &key_name,
                    zone: "",
                    operations: &[],
                    outcome: verdict_kind(&verdict),
                    reason: Some("TSIG check failed"),
                    latency: Duration::ZERO,
                });
            }
            let mut metadata = Metadata::response_from_request(&request.metadata);
            metadata.response_code = rcode;
            let bytes = reply::encode(&request, metadata, &[], &[], tsig_reserve(&verdict));
            return seal(&verdict, &bytes, now);
        }
        // nsupdate resends the identical message: answer it the first answer, change nothing.
        let guard = match &verdict {
            TsigVerdict::Signed(ctx) if request.metadata.op_code == OpCode::Update => {
                let key = ReplayKey::new(ctx.request().canonical_key_name(), ctx.request().mac());
                match self.replays.claim(key.clone(), Instant::now()) {
                    Claim::Answered(bytes) => {
                        tracing::info!(%src, key = %key_name, "replayed UPDATE answered from the first reply");
                        return Some(bytes);
                    }
                    // The first copy is still being answered (it may wait on CSC in `accepted`
                    // mode): this copy gets the same reply once there is one.
                    Claim::InFlight => return self.first_reply(&key).await,
                    Claim::Fresh(guard) => Some(guard),
                }
            }
            _ => None,
        };
        let (metadata, answer) = match request.metadata.op_code {
            OpCode::Query => self.query(&request),
            OpCode::Update => (
                self.update(&request, &verdict, &key_name).await,
                Answer::bare(ResponseCode::NoError),
            ),
            op => {
                tracing::info!(%src, %op, "NOTIMP: opcode not served");
                (
                    with_rcode(&request, ResponseCode::NotImp),
                    Answer::bare(ResponseCode::NoError),
                )
            }
        };
        let bytes = reply::encode(
            &request,
            metadata,
            &answer.answers,
            &answer.authorities,
            tsig_reserve(&verdict),
        );
        let sealed = seal(&verdict, &bytes, now)?;
        if let Some(guard) = guard {
            guard.complete(sealed.clone());
        }
        Some(sealed)
    }

    /// Waits (bounded) for the reply to the first copy of a replayed request.
    async fn first_reply(&self, key: &ReplayKey) -> Option<Vec<u8>> {
        let deadline = Instant::now() + REPLAY_WAIT;
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if let Some(bytes) = self.replays.get(key, Instant::now()) {
                return Some(bytes);
            }
        }
        None
    }

    /// Answers a query from the desired view of the zone that holds the name.
    fn query(&self, request: &Request) -> (Metadata, Answer) {
        if request.edns.as_ref().is_some_and(|edns| edns.version() > 0) {
            return (
                with_rcode(request, ResponseCode::BADVERS),
                Answer::bare(ResponseCode::NoError),
            );
        }
        let [query] = request.queries.queries() else {
            return (
                with_rcode(request, ResponseCode::FormErr),
                Answer::bare(ResponseCode::NoError),
            );
        };
        let question = query.original();
        let answer = match self.engine.find_zone(&question.name().to_ascii()) {
            Some(zone) => {
                let view = self.view(&zone);
                view.answer(
                    question.name(),
                    question.query_type(),
                    question.query_class(),
                )
            }
            None => Answer::refused(),
        };
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = answer.authoritative;
        metadata.recursion_available = false;
        metadata.response_code = answer.rcode;
        metrics::query(&rcode_name(answer.rcode));
        (metadata, answer)
    }

    /// The desired view of `zone`, from the cache while its inputs are unchanged.
    fn view(&self, zone: &str) -> Arc<ZoneView> {
        let version = self.engine.view_version(zone);
        if let Some((cached, view)) = self.views.lock().expect("lock").get(zone)
            && *cached == version
        {
            return view.clone();
        }
        let view: Arc<ZoneView> = Arc::new(self.engine.desired_zone(zone).iter().collect());
        // Keep it only if nothing moved while it was built, so a view is never filed under
        // inputs older than its own.
        if self.engine.view_version(zone) == version {
            self.views
                .lock()
                .expect("lock")
                .insert(zone.to_owned(), (version, view.clone()));
        }
        view
    }

    /// Runs an UPDATE through RFC 2136's steps and the engine; returns the reply header.
    /// Every UPDATE, refused or not, leaves one audit event and one metric.
    async fn update(&self, request: &Request, verdict: &TsigVerdict, key_name: &str) -> Metadata {
        let started = Instant::now();
        let src = request.src();
        let result = self.plan_and_submit(request, verdict).await;
        let zone = request
            .queries
            .queries()
            .first()
            .map(|q| crate::csc::names::normalize(&q.original().name().to_ascii()))
            .unwrap_or_default();
        let operations: Vec<String> = request
            .authorities
            .iter()
            .map(ToString::to_string)
            .collect();
        let (rcode, reason) = match &result {
            Ok(_) => (ResponseCode::NoError, None),
            Err(refusal) => (refusal.rcode, Some(refusal.reason.as_str())),
        };
        let outcome = rcode_name(rcode);
        match &result {
            // The audit event below is the info-level record of an accepted UPDATE.
            Ok(_) => {
                tracing::debug!(%src, key = %key_name, %zone, ops = operations.len(), "UPDATE accepted")
            }
            Err(refusal) => {
                tracing::warn!(%src, key = %key_name, %zone, rcode = %outcome, reason = %refusal.reason, "UPDATE refused")
            }
        }
        metrics::update(&outcome, key_name, &zone);
        audit::update(&audit::UpdateEvent {
            src,
            transport: transport_name(request.protocol()),
            key: key_name,
            zone: &zone,
            operations: &operations,
            outcome: &outcome,
            reason,
            latency: started.elapsed(),
        });
        with_rcode(request, rcode)
    }

    async fn plan_and_submit(
        &self,
        request: &Request,
        verdict: &TsigVerdict,
    ) -> Result<(String, usize), Refusal> {
        let zone = update::zone_of(request.queries.queries())?;
        let served = self.engine.zone_of(&zone).await;
        if served.as_deref() != Some(zone.as_str()) {
            return Err(refusal(
                ResponseCode::NotAuth,
                format!("zone {zone} is not served here"),
            ));
        }
        let TsigVerdict::Signed(ctx) = verdict else {
            return Err(refusal(
                ResponseCode::Refused,
                "unsigned UPDATE: every change must be TSIG-signed",
            ));
        };
        let Some(grant) = self.grants.get(&ctx.request().canonical_key_name()) else {
            return Err(refusal(ResponseCode::Refused, "key has no grant"));
        };
        // The desired view lays every pending change over CSC's records: its cost grows with the
        // pending changes (up to `batch_max_wait` worth under load), so build it only when there
        // are prerequisites to check against it. ACME clients send none.
        if !request.answers.is_empty() {
            let Some(view) = self.engine.desired_zone(&zone) else {
                return Err(refusal(
                    ResponseCode::NotAuth,
                    format!("zone {zone} is not served here"),
                ));
            };
            update::check_prerequisites(&request.answers, &ZoneData::from(&view))?;
        }
        update::check_permission(&request.authorities, &zone, grant)?;
        let ops = update::plan_operations(&request.authorities, &zone, grant.delete_foreign)?;
        if ops.is_empty() {
            return Ok((zone, 0));
        }
        let count = ops.len();
        // Every way the engine can decline is a server-side failure the client may retry:
        // credentials, journal, CSC's refusal or timeout (`accepted` mode), back-pressure.
        match self.engine.submit(&zone, ops, grant.name.as_str()).await {
            Ok(_) => Ok((zone, count)),
            Err(err) => Err(refusal(ResponseCode::ServFail, err.to_string())),
        }
    }
}

impl Handler for Gateway {
    async fn handle(
        &self,
        request: Vec<u8>,
        src: SocketAddr,
        protocol: Protocol,
    ) -> Option<Vec<u8>> {
        self.respond(request, src, protocol).await
    }
}

/// The rcode's mnemonic (`NOERROR`, `REFUSED`, …) for logs and metric labels.
fn rcode_name(rcode: ResponseCode) -> String {
    match rcode {
        ResponseCode::NoError => "NOERROR".into(),
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        ResponseCode::Refused => "REFUSED".into(),
        ResponseCode::YXDomain => "YXDOMAIN".into(),
        ResponseCode::YXRRSet => "YXRRSET".into(),
        ResponseCode::NXRRSet => "NXRRSET".into(),
        ResponseCode::NotAuth => "NOTAUTH".into(),
        ResponseCode::NotZone => "NOTZONE".into(),
        other => format!("RCODE{}", u16::from(other)),
    }
}

fn transport_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Udp => "udp",
        Protocol::Tcp => "tcp",
        _ => "other",
    }
}

fn refusal(rcode: ResponseCode, reason: impl Into<String>) -> Refusal {
    Refusal {
        rcode,
        reason: reason.into(),
    }
}

fn with_rcode(request: &Request, rcode: ResponseCode) -> Metadata {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.response_code = rcode;
    metadata
}

/// Room to keep in a UDP reply for the TSIG record that [`seal`] appends: none when the reply
/// goes out without one (an unsigned request must get every byte of its 512), else the size of
/// that record: the request's names, the fixed fields, the key's full MAC (none in BADKEY and
/// BADSIG replies) and at most 6 bytes of Other Data.
fn tsig_reserve(verdict: &TsigVerdict) -> usize {
    let mac = match verdict {
        TsigVerdict::Signed(ctx) | TsigVerdict::BadTime(ctx) | TsigVerdict::BadTrunc(ctx) => {
            ctx.key().algorithm().mac_len()
        }
        _ => 0,
    };
    verdict.request_tsig().map_or(0, |tsig| {
        // owner + type, class, TTL, rdlength; algorithm + time, fudge, MAC size, original id,
        // error, other length
        tsig.key_name_wire().len() + 10 + tsig.algorithm_wire().len() + 16 + mac + MAX_OTHER
    })
}

/// Signs (or attaches the unsigned error TSIG to) a reply as the verdict requires.
fn seal(verdict: &TsigVerdict, bytes: &[u8], now: u64) -> Option<Vec<u8>> {
    match verdict.seal(bytes, now) {
        Ok(sealed) => Some(sealed),
        Err(err) => {
            tracing::error!(error = %err, "cannot sign the reply; sending nothing");
            None
        }
    }
}

fn verdict_kind(verdict: &TsigVerdict) -> &'static str {
    match verdict {
        TsigVerdict::Unsigned => "unsigned",
        TsigVerdict::Signed(_) => "signed",
        TsigVerdict::FormErr(_) => "malformed TSIG",
        TsigVerdict::Refused(_) => "SIG(0)/TKEY",
        TsigVerdict::BadKey(_) => "BADKEY",
        TsigVerdict::BadSig(_) => "BADSIG",
        TsigVerdict::BadTime(_) => "BADTIME",
        TsigVerdict::BadTrunc(_) => "BADTRUNC",
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
