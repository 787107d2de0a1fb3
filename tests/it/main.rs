//! supctl's integration tests, one binary: each module drives the real `supctl` binary or the
//! library against real parts (HTTPS servers with a test CA, the WSDL-checked WSUS double, the
//! embedded store). One binary links the crate once instead of once per file; `support` holds
//! every shared fixture.

// Everything in this crate is test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

mod apply_scale;
mod apply_signals;
mod approvals;
mod bundle;
mod catalog_cli;
mod catalog_conformance;
mod catalog_duplicates;
mod catalog_limits;
mod catalog_parse;
mod catalog_partners;
mod catalog_xml_errors;
mod category_limit;
mod cli_snapshots;
mod cli_validate;
mod closed_pipe;
mod config_model;
mod debug_cli;
mod doctor;
mod e2e_backends;
mod e2e_plan_apply;
mod e2e_safety;
mod e2e_trust;
mod empty_config;
mod exit_codes;
mod fetch_catalog;
mod fetch_download;
mod fetch_test_server;
mod fetch_tls_proxy;
mod firstweek_categories;
mod firstweek_converge;
mod firstweek_docs;
mod firstweek_expired;
mod firstweek_sources;
mod firstweek_validate;
mod generator_catalog;
mod generator_signing;
mod hygiene;
mod import;
mod json_output;
mod lockfile;
mod notify;
mod ops_deselect;
mod ops_downloads;
mod ops_grouped;
mod ops_status;
mod ops_store;
mod plan_binding;
mod plan_once;
mod promotion;
mod signing;
mod status_expiry;
mod status_messages;
mod status_report;
mod store_cli;
mod store_crash;
mod store_fencing;
mod store_lock;
mod store_migration;
mod store_parity;
mod store_prune;
mod store_semantics;
mod store_semantics_records;
mod suspend;
mod targets;
mod trust_authenticode;
mod trust_export;
mod updates_supersedence;
mod watch_backoff;
mod watch_config;
mod watch_locked;
mod watch_schedule;
mod watch_service;
mod watch_sigterm;
mod watch_store;
mod watch_sync;
mod watch_web;
mod watch_wsus;
mod web_browser;
mod windows;
mod wsus_approvals;
mod wsus_backend;
mod wsus_category_limit;
mod wsus_live;
mod wsus_server_ops;
mod wsus_server_updates;
mod wsus_tls;
mod wsus_transport;
mod wsus_wsdl_conformance;
