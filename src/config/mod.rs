//! The desired state: TOML model, loading and validation.
