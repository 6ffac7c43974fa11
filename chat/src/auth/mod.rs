//! Accounts and sessions: password hashing, session tokens, input rules.

mod password;
mod sessions;
mod token;
mod validate;

pub(crate) use password::{HashError, Passwords};
pub(crate) use sessions::{SOCKET_RECHECK, Sessions};
pub(crate) use token::{SESSION_TTL, SessionToken};
pub(crate) use validate::{
    validate_credentials, validate_email, validate_password, validate_room_name, validate_username,
};
