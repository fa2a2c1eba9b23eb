//! Secrets (TSIG keys, the CSC API key and bearer token) in a type that cannot leak by accident.
//!
//! `Debug` and `Display` print `[redacted]`, and the bytes are zeroed on drop (through `secrecy`).
//! The only way to the value is [`Secret::expose`], which makes every use easy to find in review.

use secrecy::{ExposeSecret, SecretString};

/// A secret string. Printing it shows `[redacted]`.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(SecretString::from(value.into()))
    }

    /// The secret value itself. Never log it or put it into an error.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Whether the secret is empty (after trimming the file's line ending).
    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

impl From<&Secret> for SecretString {
    fn from(secret: &Secret) -> Self {
        secret.0.clone()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printing_never_shows_the_value() {
        let secret = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some([redacted])");
        assert_eq!(secret.expose(), "hunter2-very-secret");
    }
}
