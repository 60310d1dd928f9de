pub mod campaigns;
pub mod health;
