use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema;

/// A user of the owning system (`"User"`, gateway-api.md §3.2). The gateway only checks that the
/// row exists.
#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = schema::User, check_for_backend(diesel::pg::Pg))]
pub struct User {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    #[serde(skip_serializing)]
    pub password: Option<String>,
    #[serde(skip_serializing)]
    pub otp: Option<String>,
    #[diesel(column_name = otpExpires)]
    pub otp_expires: Option<DateTime<Utc>>,
    #[diesel(column_name = otpVerificationDeadline)]
    pub otp_verification_deadline: Option<DateTime<Utc>>,
    #[diesel(column_name = emailVerified)]
    pub email_verified: Option<DateTime<Utc>>,
    #[diesel(column_name = phoneVerified)]
    pub phone_verified: Option<DateTime<Utc>>,
    pub image: Option<String>,
    #[diesel(column_name = emailVerificationToken)]
    #[serde(skip_serializing)]
    pub email_verification_token: Option<String>,
    #[diesel(column_name = emailVerificationTokenExpires)]
    pub email_verification_token_expires: Option<DateTime<Utc>>,
    pub role: String,
    #[diesel(column_name = apiKey)]
    #[serde(skip_serializing)]
    pub api_key: Option<String>,
    #[diesel(column_name = updatedAt)]
    pub updated_at: DateTime<Utc>,
    #[diesel(column_name = emailOtp)]
    #[serde(skip_serializing)]
    pub email_otp: Option<String>,
    #[diesel(column_name = emailOtpExpires)]
    pub email_otp_expires: Option<DateTime<Utc>>,
    #[diesel(column_name = resetPasswordOtp)]
    #[serde(skip_serializing)]
    pub reset_password_otp: Option<String>,
    #[diesel(column_name = resetPasswordOtpExpires)]
    pub reset_password_otp_expires: Option<DateTime<Utc>>,
    #[diesel(column_name = resetPasswordLastRequestAt)]
    pub reset_password_last_request_at: Option<DateTime<Utc>>,
    #[diesel(column_name = ssoOtp)]
    #[serde(skip_serializing)]
    pub sso_otp: Option<String>,
    #[diesel(column_name = ssoOtpExpires)]
    pub sso_otp_expires: Option<DateTime<Utc>>,
    #[diesel(column_name = ssoLastRequestAt)]
    pub sso_last_request_at: Option<DateTime<Utc>>,
    #[diesel(column_name = isActive)]
    pub is_active: bool,
    #[diesel(column_name = createdAt)]
    pub created_at: DateTime<Utc>,
}

/// A new `User` row; the database fills the timestamps and the columns not listed.
#[derive(Insertable, Debug, Clone)]
#[diesel(table_name = schema::User, check_for_backend(diesel::pg::Pg))]
pub struct NewUser {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub password: Option<String>,
    pub otp: Option<String>,
    #[diesel(column_name = otpExpires)]
    pub otp_expires: Option<DateTime<Utc>>,
    #[diesel(column_name = otpVerificationDeadline)]
    pub otp_verification_deadline: Option<DateTime<Utc>>,
    #[diesel(column_name = emailVerified)]
    pub email_verified: Option<DateTime<Utc>>,
    #[diesel(column_name = phoneVerified)]
    pub phone_verified: Option<DateTime<Utc>>,
    pub image: Option<String>,
    #[diesel(column_name = emailVerificationToken)]
    pub email_verification_token: Option<String>,
    #[diesel(column_name = emailVerificationTokenExpires)]
    pub email_verification_token_expires: Option<DateTime<Utc>>,
    pub role: String,
    #[diesel(column_name = apiKey)]
    pub api_key: Option<String>,
    #[diesel(column_name = emailOtp)]
    pub email_otp: Option<String>,
    #[diesel(column_name = emailOtpExpires)]
    pub email_otp_expires: Option<DateTime<Utc>>,
    #[diesel(column_name = resetPasswordOtp)]
    pub reset_password_otp: Option<String>,
    #[diesel(column_name = resetPasswordOtpExpires)]
    pub reset_password_otp_expires: Option<DateTime<Utc>>,
    #[diesel(column_name = resetPasswordLastRequestAt)]
    pub reset_password_last_request_at: Option<DateTime<Utc>>,
    #[diesel(column_name = ssoOtp)]
    pub sso_otp: Option<String>,
    #[diesel(column_name = ssoOtpExpires)]
    pub sso_otp_expires: Option<DateTime<Utc>>,
    #[diesel(column_name = ssoLastRequestAt)]
    pub sso_last_request_at: Option<DateTime<Utc>>,
    #[diesel(column_name = isActive)]
    pub is_active: bool,
}
