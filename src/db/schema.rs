// @generated automatically by Diesel CLI.

diesel::table! {
    ServicesWhatsappCustomers (id) {
        #[max_length = 30]
        id -> Varchar,
        customerId -> Text,
        packageId -> Text,
        status -> Text,
        activatedAt -> Nullable<Timestamptz>,
        expiredAt -> Timestamptz,
        updatedAt -> Timestamptz,
        lastSubscriptionAt -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    User (id) {
        id -> Text,
        name -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        password -> Nullable<Text>,
        otp -> Nullable<Text>,
        otpExpires -> Nullable<Timestamptz>,
        otpVerificationDeadline -> Nullable<Timestamptz>,
        emailVerified -> Nullable<Timestamptz>,
        phoneVerified -> Nullable<Timestamptz>,
        image -> Nullable<Text>,
        emailVerificationToken -> Nullable<Text>,
        emailVerificationTokenExpires -> Nullable<Timestamptz>,
        role -> Text,
        apiKey -> Nullable<Text>,
        updatedAt -> Timestamptz,
        emailOtp -> Nullable<Text>,
        emailOtpExpires -> Nullable<Timestamptz>,
        resetPasswordOtp -> Nullable<Text>,
        resetPasswordOtpExpires -> Nullable<Timestamptz>,
        resetPasswordLastRequestAt -> Nullable<Timestamptz>,
        ssoOtp -> Nullable<Text>,
        ssoOtpExpires -> Nullable<Timestamptz>,
        ssoLastRequestAt -> Nullable<Timestamptz>,
        isActive -> Bool,
        createdAt -> Timestamptz,
    }
}

diesel::table! {
    UserSession (id) {
        id -> Text,
        userId -> Text,
        #[max_length = 512]
        token -> Varchar,
        deviceInfo -> Nullable<Text>,
        ipAddress -> Nullable<Text>,
        userAgent -> Nullable<Text>,
        isActive -> Bool,
        lastUsed -> Nullable<Timestamptz>,
        expiresAt -> Timestamptz,
        createdAt -> Timestamptz,
        updatedAt -> Timestamptz,
    }
}

diesel::table! {
    WhatsAppBulkCampaignItems (id) {
        id -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
        bulk_campaign_id -> Int8,
        phone -> Text,
        status -> Text,
        message_id -> Nullable<Text>,
        error_message -> Nullable<Text>,
        sent_at -> Nullable<Timestamptz>,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamptz>,
        attempt_started_at -> Nullable<Timestamptz>,
        outcome_unknown_at -> Nullable<Timestamptz>,
        delivered_at -> Nullable<Timestamptz>,
        read_at -> Nullable<Timestamptz>,
        session_id -> Nullable<Text>,
    }
}

diesel::table! {
    WhatsAppBulkCampaigns (id) {
        id -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
        user_id -> Text,
        campaign_id -> Nullable<Int8>,
        name -> Text,
        #[sql_name = "type"]
        type_ -> Text,
        message_body -> Nullable<Text>,
        image_url -> Nullable<Text>,
        image_base64 -> Nullable<Text>,
        caption -> Nullable<Text>,
        status -> Text,
        total_count -> Int8,
        sent_count -> Int8,
        failed_count -> Int8,
        scheduled_at -> Nullable<Timestamptz>,
        #[max_length = 255]
        timezone -> Nullable<Varchar>,
        processed_at -> Nullable<Timestamptz>,
        completed_at -> Nullable<Timestamptz>,
        error_message -> Nullable<Text>,
        session_id -> Nullable<Text>,
        delivered_count -> Int8,
        read_count -> Int8,
        idempotency_key -> Nullable<Text>,
        status_reason -> Nullable<Text>,
        paused_at -> Nullable<Timestamptz>,
        cancelled_at -> Nullable<Timestamptz>,
        image_data -> Nullable<Text>,
    }
}

diesel::table! {
    WhatsAppCampaigns (id) {
        id -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
        user_id -> Text,
        name -> Text,
        #[sql_name = "type"]
        type_ -> Text,
        status -> Text,
        message_body -> Nullable<Text>,
        image_url -> Nullable<Text>,
        image_base64 -> Nullable<Text>,
        caption -> Nullable<Text>,
    }
}

diesel::table! {
    WhatsAppContact (id) {
        id -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
        user_id -> Text,
        phone -> Text,
        name -> Nullable<Text>,
        full_name -> Nullable<Text>,
        push_name -> Nullable<Text>,
        short -> Nullable<Text>,
        notify -> Nullable<Text>,
        business -> Bool,
        verified -> Bool,
        source -> Text,
    }
}

diesel::table! {
    WhatsAppMessageStats (id) {
        id -> Text,
        userId -> Text,
        sessionId -> Text,
        totalMessagesSent -> Int4,
        totalMessagesFailed -> Int4,
        textMessagesSent -> Int4,
        textMessagesFailed -> Int4,
        imageMessagesSent -> Int4,
        imageMessagesFailed -> Int4,
        documentMessagesSent -> Int4,
        documentMessagesFailed -> Int4,
        audioMessagesSent -> Int4,
        audioMessagesFailed -> Int4,
        stickerMessagesSent -> Int4,
        stickerMessagesFailed -> Int4,
        videoMessagesSent -> Int4,
        videoMessagesFailed -> Int4,
        locationMessagesSent -> Int4,
        locationMessagesFailed -> Int4,
        contactMessagesSent -> Int4,
        contactMessagesFailed -> Int4,
        templateMessagesSent -> Int4,
        templateMessagesFailed -> Int4,
        lastMessageSentAt -> Nullable<Timestamptz>,
        lastMessageFailedAt -> Nullable<Timestamptz>,
        createdAt -> Timestamptz,
        updatedAt -> Timestamptz,
    }
}

diesel::table! {
    WhatsAppSession (id) {
        #[max_length = 30]
        id -> Varchar,
        sessionId -> Text,
        sessionName -> Nullable<Text>,
        token -> Text,
        userId -> Nullable<Text>,
        webhook -> Nullable<Text>,
        events -> Nullable<Text>,
        expiration -> Int4,
        connected -> Bool,
        loggedIn -> Bool,
        jid -> Nullable<Text>,
        qrcode -> Nullable<Text>,
        status -> Text,
        message -> Nullable<Text>,
        isSystemSession -> Bool,
        createdAt -> Timestamptz,
        updatedAt -> Timestamptz,
    }
}

diesel::table! {
    WhatsappApiPackage (id) {
        #[max_length = 30]
        id -> Varchar,
        name -> Nullable<Text>,
        description -> Nullable<Text>,
        priceMonth -> Nullable<Int4>,
        priceYear -> Nullable<Int4>,
        maxSession -> Int4,
        createdAt -> Timestamptz,
        updatedAt -> Timestamptz,
    }
}

diesel::table! {
    chat_messages (id) {
        id -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        message_id -> Text,
        chat_room_id -> Int8,
        chat_id -> Text,
        user_token -> Text,
        sender_j_id -> Text,
        sender_type -> Text,
        message_type -> Text,
        content -> Nullable<Text>,
        caption -> Nullable<Text>,
        media_data -> Nullable<Jsonb>,
        quoted_message_id -> Nullable<Text>,
        status -> Text,
        message_timestamp -> Timestamptz,
        delivered_at -> Nullable<Timestamptz>,
        read_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    chat_rooms (id) {
        id -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        chat_id -> Text,
        user_token -> Text,
        contact_j_id -> Text,
        contact_name -> Nullable<Text>,
        chat_type -> Text,
        is_group -> Bool,
        group_name -> Nullable<Text>,
        last_message -> Nullable<Text>,
        last_sender -> Nullable<Text>,
        last_activity -> Nullable<Timestamptz>,
        unread_count -> Int8,
        user_id -> Nullable<Text>,
    }
}

diesel::table! {
    gateway_session_leases (session_key) {
        session_key -> Text,
        owner -> Text,
        expires_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    gateway_session_settings (session_id) {
        session_id -> Text,
        rate_per_sec -> Nullable<Float8>,
        daily_cap -> Nullable<Int4>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        webhook_hmac_key -> Nullable<Text>,
    }
}

diesel::table! {
    gen_event_webhooks (id) {
        id -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        event_type -> Text,
        source -> Text,
        user_token -> Nullable<Text>,
        event_data -> Nullable<Jsonb>,
        raw_data -> Nullable<Text>,
        processed -> Bool,
        received_at -> Timestamptz,
        processed_at -> Nullable<Timestamptz>,
        dedup_key -> Nullable<Text>,
        session_id -> Nullable<Text>,
        user_id -> Nullable<Text>,
        unknown_session -> Bool,
        attempts -> Int4,
        last_error -> Nullable<Text>,
        next_attempt_at -> Timestamptz,
    }
}

diesel::table! {
    user_settings (id) {
        id -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        user_token -> Text,
        chat_log_enabled -> Bool,
        auto_read_enabled -> Bool,
        webhook_url -> Nullable<Text>,
        display_name -> Nullable<Text>,
        is_active -> Bool,
        user_id -> Nullable<Text>,
    }
}

diesel::table! {
    whats_app_chat_presences (id) {
        id -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        from -> Text,
        chat_jid -> Text,
        state -> Text,
        media -> Nullable<Text>,
        auto_stopped -> Bool,
        expires_at -> Nullable<Timestamptz>,
        received_at -> Timestamptz,
        user_token -> Nullable<Text>,
    }
}

diesel::table! {
    whats_app_history_syncs (id) {
        id -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        sync_type -> Text,
        conversations -> Nullable<Jsonb>,
        received_at -> Timestamptz,
        user_token -> Nullable<Text>,
    }
}

diesel::table! {
    whats_app_message_statuses (id) {
        id -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        message_id -> Text,
        from -> Text,
        to -> Text,
        status -> Text,
        event_timestamp -> Timestamptz,
        received_at -> Timestamptz,
        user_token -> Nullable<Text>,
    }
}

diesel::table! {
    whats_app_messages (id) {
        id -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        message_id -> Text,
        from -> Text,
        to -> Text,
        from_me -> Bool,
        push_name -> Nullable<Text>,
        message_type -> Text,
        body -> Nullable<Text>,
        caption -> Nullable<Text>,
        media_data -> Nullable<Jsonb>,
        location_data -> Nullable<Jsonb>,
        contact_data -> Nullable<Jsonb>,
        quoted_message -> Nullable<Jsonb>,
        mentioned_jid -> Nullable<Jsonb>,
        group_jid -> Nullable<Text>,
        participant -> Nullable<Text>,
        broadcast -> Bool,
        forwarded -> Bool,
        ephemeral_duration -> Int8,
        message_timestamp -> Timestamptz,
        webhook_received -> Timestamptz,
        status -> Text,
        processed -> Bool,
        user_token -> Nullable<Text>,
    }
}

diesel::table! {
    whats_app_presences (id) {
        id -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        from -> Text,
        presence -> Text,
        last_seen -> Nullable<Timestamptz>,
        received_at -> Timestamptz,
        user_token -> Nullable<Text>,
    }
}

diesel::table! {
    whats_app_read_receipts (id) {
        id -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        message_ids -> Nullable<Jsonb>,
        from -> Text,
        to -> Text,
        receipt_type -> Text,
        event_timestamp -> Timestamptz,
        received_at -> Timestamptz,
        user_token -> Nullable<Text>,
    }
}

diesel::table! {
    whats_app_sessions (id) {
        id -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        user_token -> Text,
        session_name -> Nullable<Text>,
        session_id -> Nullable<Text>,
        j_id -> Nullable<Text>,
        session_state -> Text,
        connected -> Bool,
        logged_in -> Bool,
        qr_code -> Nullable<Text>,
        qr_expired_at -> Nullable<Timestamptz>,
        connected_at -> Nullable<Timestamptz>,
        disconnected_at -> Nullable<Timestamptz>,
        last_sync_at -> Nullable<Timestamptz>,
        webhook -> Nullable<Text>,
        last_activity_at -> Timestamptz,
        received_at -> Timestamptz,
        user_id -> Nullable<Text>,
    }
}

diesel::joinable!(chat_messages -> chat_rooms (chat_room_id));

diesel::allow_tables_to_appear_in_same_query!(
    ServicesWhatsappCustomers,
    User,
    UserSession,
    WhatsAppBulkCampaignItems,
    WhatsAppBulkCampaigns,
    WhatsAppCampaigns,
    WhatsAppContact,
    WhatsAppMessageStats,
    WhatsAppSession,
    WhatsappApiPackage,
    chat_messages,
    chat_rooms,
    gateway_session_leases,
    gateway_session_settings,
    gen_event_webhooks,
    user_settings,
    whats_app_chat_presences,
    whats_app_history_syncs,
    whats_app_message_statuses,
    whats_app_messages,
    whats_app_presences,
    whats_app_read_receipts,
    whats_app_sessions,
);
