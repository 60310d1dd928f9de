//! Chat queries.
