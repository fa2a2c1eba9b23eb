//! The configured TSIG keys, looked up by canonical key name.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretSlice};

use super::name;
use crate::config::{KeyConfig, TsigAlgorithm};

/// One TSIG key: its name, its single algorithm and its secrets (first signs, all verify).
pub struct TsigKey {
    /// Canonical name: lower case with the final dot, e.g. `acme-client.`.
    name: String,
    algorithm: TsigAlgorithm,
    /// Zeroed on drop; never printed.
    secrets: Vec<SecretSlice<u8>>,
}

impl TsigKey {
    /// The key's canonical name (lower case, final dot): the name its grant is filed under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The one algorithm requests with this key must use.
    pub fn algorithm(&self) -> TsigAlgorithm {
        self.algorithm
    }

    /// How many secrets the key has (more than one during a rotation).
    pub fn secret_count(&self) -> usize {
        self.secrets.len()
    }

    pub(crate) fn secret(&self, index: usize) -> Option<&[u8]> {
        self.secrets.get(index).map(|s| s.expose_secret())
    }

    pub(crate) fn secrets(&self) -> impl Iterator<Item = &[u8]> {
        self.secrets.iter().map(|s| s.expose_secret())
    }
}

impl fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field(
                "secrets",
                &format_args!("[{} redacted]", self.secrets.len()),
            )
            .finish()
    }
}

/// How short a truncated MAC may be (RFC 8945 §5.2.4 local policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TruncationPolicy {
    /// Only the full MAC is accepted; a shorter one the RFC permits gets BADTRUNC. This is what
    /// BIND does for keys not configured as truncated, and no stock ACME client truncates.
    #[default]
    FullLength,
    /// Any length RFC 8945 §5.2.2.1 permits (at least max(10, half the hash)) is accepted.
    RfcMinimum,
}

/// The keys requests may be signed with.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    /// Keyed by the canonical (lower-case) wire form of the name, so that a label containing a
    /// dot can never pass for two labels.
    keys: HashMap<Vec<u8>, Arc<TsigKey>>,
    truncation: TruncationPolicy,
}

impl KeyRing {
    /// The key ring of the configuration's `[[key]]` entries, with [`TruncationPolicy::FullLength`].
    ///
    /// Names the config loader accepted are always valid; one that is not is skipped (it could
    /// never match a request anyway).
    pub fn new(keys: &[KeyConfig]) -> Self {
        let mut ring = KeyRing::default();
        for key in keys {
            let secrets = key.secrets.iter().map(|s| s.expose().to_vec()).collect();
            ring = ring.with_key(&key.name, key.algorithm, secrets);
        }
        ring
    }

    /// Adds (or replaces) a key; for tests and tools. `name` is compared case-insensitively.
    pub fn with_key(mut self, name: &str, algorithm: TsigAlgorithm, secrets: Vec<Vec<u8>>) -> Self {
        if let Some(wire) = name::from_text(name) {
            let wire = wire.to_ascii_lowercase();
            let key = TsigKey {
                name: name::to_text(&wire),
                algorithm,
                secrets: secrets.into_iter().map(SecretSlice::from).collect(),
            };
            self.keys.insert(wire, Arc::new(key));
        }
        self
    }

    /// The same keys with another truncation policy.
    pub fn with_truncation(mut self, policy: TruncationPolicy) -> Self {
        self.truncation = policy;
        self
    }

    /// The truncation policy in force.
    pub fn truncation(&self) -> TruncationPolicy {
        self.truncation
    }

    /// The key with this name, in any letter case, with or without the final dot.
    pub fn get(&self, name: &str) -> Option<&TsigKey> {
        let wire = name::from_text(name)?;
        self.get_wire(&wire).map(|k| &**k)
    }

    /// The key named by a wire-form name, in any letter case.
    pub(crate) fn get_wire(&self, wire: &[u8]) -> Option<&Arc<TsigKey>> {
        self.keys.get(&wire.to_ascii_lowercase())
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no keys (then every signed request gets BADKEY).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}
