pub mod campaigns;
pub mod chats;
pub mod health;
pub mod webhooks;
