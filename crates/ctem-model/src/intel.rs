//! Threat-intelligence records. Owned by the intel stage; filled in by `ctem-intel` work.
