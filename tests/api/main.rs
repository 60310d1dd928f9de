mod contract_schema;
mod foundation;
mod gateway;
mod helpers;
