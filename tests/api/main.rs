mod auth;
mod bad_input;
mod campaigns;
mod contacts;
mod contract_schema;
mod foundation;
mod gateway;
#[allow(dead_code)] // shared by several test modules; not every module uses every helper
mod helpers;
mod openapi;
mod templates;
mod webhooks;
