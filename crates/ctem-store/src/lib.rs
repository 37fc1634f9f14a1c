//! ctem-store
