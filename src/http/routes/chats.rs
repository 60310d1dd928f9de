//! Chat reads.
