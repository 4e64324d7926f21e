//! Human reports of what domain code returns, as tables: one file a command
//! family. Domain code returns data; only `cli` turns it into text.

pub(super) mod ab;
pub(super) mod canary;
pub(super) mod compare;
pub(super) mod eval;
