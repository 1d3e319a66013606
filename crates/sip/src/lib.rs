//! SIP edge. The registrar, trunks and B2BUA arrive with the telephony work; the crate exists
//! now so that the dependency direction (edges → engine, never edge → edge) is fixed from the
//! start.
