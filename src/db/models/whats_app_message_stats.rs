use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema;

/// Message counters per (`user_id`, `session_id`) (`"WhatsAppMessageStats"`, §3.2, §5.5).
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = schema::WhatsAppMessageStats, check_for_backend(diesel::pg::Pg))]
pub struct WhatsAppMessageStats {
    pub id: String,
    #[diesel(column_name = userId)]
    pub user_id: String,
    #[diesel(column_name = sessionId)]
    pub session_id: String,
    #[diesel(column_name = totalMessagesSent)]
    pub total_messages_sent: i32,
    #[diesel(column_name = totalMessagesFailed)]
    pub total_messages_failed: i32,
    #[diesel(column_name = textMessagesSent)]
    pub text_messages_sent: i32,
    #[diesel(column_name = textMessagesFailed)]
    pub text_messages_failed: i32,
    #[diesel(column_name = imageMessagesSent)]
    pub image_messages_sent: i32,
    #[diesel(column_name = imageMessagesFailed)]
    pub image_messages_failed: i32,
    #[diesel(column_name = documentMessagesSent)]
    pub document_messages_sent: i32,
    #[diesel(column_name = documentMessagesFailed)]
    pub document_messages_failed: i32,
    #[diesel(column_name = audioMessagesSent)]
    pub audio_messages_sent: i32,
    #[diesel(column_name = audioMessagesFailed)]
    pub audio_messages_failed: i32,
    #[diesel(column_name = stickerMessagesSent)]
    pub sticker_messages_sent: i32,
    #[diesel(column_name = stickerMessagesFailed)]
    pub sticker_messages_failed: i32,
    #[diesel(column_name = videoMessagesSent)]
    pub video_messages_sent: i32,
    #[diesel(column_name = videoMessagesFailed)]
    pub video_messages_failed: i32,
    #[diesel(column_name = locationMessagesSent)]
    pub location_messages_sent: i32,
    #[diesel(column_name = locationMessagesFailed)]
    pub location_messages_failed: i32,
    #[diesel(column_name = contactMessagesSent)]
    pub contact_messages_sent: i32,
    #[diesel(column_name = contactMessagesFailed)]
    pub contact_messages_failed: i32,
    #[diesel(column_name = templateMessagesSent)]
    pub template_messages_sent: i32,
    #[diesel(column_name = templateMessagesFailed)]
    pub template_messages_failed: i32,
    #[diesel(column_name = lastMessageSentAt)]
    pub last_message_sent_at: Option<DateTime<Utc>>,
    #[diesel(column_name = lastMessageFailedAt)]
    pub last_message_failed_at: Option<DateTime<Utc>>,
    #[diesel(column_name = createdAt)]
    pub created_at: DateTime<Utc>,
    #[diesel(column_name = updatedAt)]
    pub updated_at: DateTime<Utc>,
}

/// A new `WhatsAppMessageStats` row; the database fills the timestamps and the columns not listed.
#[derive(Insertable, Debug, Clone)]
#[diesel(table_name = schema::WhatsAppMessageStats, check_for_backend(diesel::pg::Pg))]
pub struct NewWhatsAppMessageStats {
    pub id: String,
    #[diesel(column_name = userId)]
    pub user_id: String,
    #[diesel(column_name = sessionId)]
    pub session_id: String,
    #[diesel(column_name = totalMessagesSent)]
    pub total_messages_sent: i32,
    #[diesel(column_name = totalMessagesFailed)]
    pub total_messages_failed: i32,
    #[diesel(column_name = textMessagesSent)]
    pub text_messages_sent: i32,
    #[diesel(column_name = textMessagesFailed)]
    pub text_messages_failed: i32,
    #[diesel(column_name = imageMessagesSent)]
    pub image_messages_sent: i32,
    #[diesel(column_name = imageMessagesFailed)]
    pub image_messages_failed: i32,
    #[diesel(column_name = documentMessagesSent)]
    pub document_messages_sent: i32,
    #[diesel(column_name = documentMessagesFailed)]
    pub document_messages_failed: i32,
    #[diesel(column_name = audioMessagesSent)]
    pub audio_messages_sent: i32,
    #[diesel(column_name = audioMessagesFailed)]
    pub audio_messages_failed: i32,
    #[diesel(column_name = stickerMessagesSent)]
    pub sticker_messages_sent: i32,
    #[diesel(column_name = stickerMessagesFailed)]
    pub sticker_messages_failed: i32,
    #[diesel(column_name = videoMessagesSent)]
    pub video_messages_sent: i32,
    #[diesel(column_name = videoMessagesFailed)]
    pub video_messages_failed: i32,
    #[diesel(column_name = locationMessagesSent)]
    pub location_messages_sent: i32,
    #[diesel(column_name = locationMessagesFailed)]
    pub location_messages_failed: i32,
    #[diesel(column_name = contactMessagesSent)]
    pub contact_messages_sent: i32,
    #[diesel(column_name = contactMessagesFailed)]
    pub contact_messages_failed: i32,
    #[diesel(column_name = templateMessagesSent)]
    pub template_messages_sent: i32,
    #[diesel(column_name = templateMessagesFailed)]
    pub template_messages_failed: i32,
    #[diesel(column_name = lastMessageSentAt)]
    pub last_message_sent_at: Option<DateTime<Utc>>,
    #[diesel(column_name = lastMessageFailedAt)]
    pub last_message_failed_at: Option<DateTime<Utc>>,
}
