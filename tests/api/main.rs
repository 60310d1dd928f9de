mod auth;
mod campaigns;
mod contacts;
mod contract_schema;
mod foundation;
mod helpers;
mod templates;
mod webhooks;
