mod contract_schema;
mod foundation;
mod helpers;
mod webhooks;
