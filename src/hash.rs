//! Content hashes: what makes a node "changed".

use sha2::{Digest, Sha256};

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The first 16 hex digits of a hash: enough to tell hashes apart in a
/// cloud tag, short enough for its 256 characters.
pub fn short(hash: &str) -> String {
    hash.chars().take(16).collect()
}

/// Hashes several labelled parts without ambiguity between them.
#[derive(Default)]
pub struct Hasher(Sha256);

impl Hasher {
    pub fn part(mut self, label: &str, bytes: &[u8]) -> Self {
        for piece in [label.as_bytes(), bytes] {
            self.0.update((piece.len() as u64).to_le_bytes());
            self.0.update(piece);
        }
        self
    }

    pub fn finish(self) -> String {
        hex::encode(&self.0.finalize()[..16])
    }
}
