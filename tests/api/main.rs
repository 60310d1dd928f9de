mod auth;
mod bad_input;
mod campaigns;
mod contacts;
mod contract_schema;
mod faults;
mod foundation;
mod gateway;
#[allow(dead_code)] // shared by several test modules; not every module uses every helper
mod helpers;
mod malformed;
mod metrics;
mod multi_instance;
mod openapi;
#[allow(dead_code)] // the process harness is shared by the multi-instance and fault tests
mod procs;
mod sessions;
mod templates;
mod webhooks;
