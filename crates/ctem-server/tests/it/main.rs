//! Integration tests of ctem-server: handlers through `tower::ServiceExt::oneshot`, the role
//! matrix, one test over a real socket, TAXII 2.1 with the Python taxii2-client.

mod api;
mod browser;
mod common;
mod dashboard;
mod events;
mod matrix;
mod measure;
mod pages;
mod socket;
mod taxii;
