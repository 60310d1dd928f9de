mod campaigns;
mod contract_schema;
mod foundation;
mod helpers;
