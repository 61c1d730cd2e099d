//! The key-value state machine (placeholder; being written).
