//! Voice files are validated by the same parser the media edge plays them with.

pub use media::wav::*;
