//! Placeholder so the crate compiles while its owner writes it; replace entirely.
