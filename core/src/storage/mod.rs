//! Storage formats and the in-memory storage (placeholder; being written).
