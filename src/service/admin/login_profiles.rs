//! Login profiles (Alibaba's and Baidu's): a user's console sign-in, which fedgate keeps as
//! the user's password and an access mode allowing the console (`default`). Without a password,
//! or with `programmatic` access, there is none; removing it leaves the user API access only
//! (the password still signs API tokens in, as Alibaba's console-less users' does not; say so
//! where it matters).

use super::super::{Accounts, AuthContext, Error, Result};
use super::{Secret, UserInput};
use crate::model::{User, UserAccessMode};

/// A user's login profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginProfile {
    pub reset_required: bool,
    /// When the password was last set.
    pub since_ms: i64,
}

/// The user's login profile, if it has one.
pub fn login_profile(user: &User) -> Option<LoginProfile> {
    (user.password_hash.is_some() && user.access_mode != UserAccessMode::Programmatic).then(|| LoginProfile {
        reset_required: user.pwd_status,
        since_ms: user.password_changed_at_ms.unwrap_or(user.created_at_ms),
    })
}

/// What a call sets of a login profile.
#[derive(Debug, Default)]
pub struct LoginProfileInput {
    pub password: Option<Secret>,
    pub reset_required: Option<bool>,
    /// Console sign-in allowed (`true`, the default) or not.
    pub console: Option<bool>,
}

/// Whether a write may make a profile, change one, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileWrite {
    Create,
    Update,
    Put,
}

impl Accounts {
    /// Writes `user_id`'s login profile as `write` allows (creating one where there is none
    /// needs a password, given or already set); an admin's power, as any change of the user.
    pub async fn write_login_profile(
        &self,
        ctx: &AuthContext,
        user_id: &str,
        write: ProfileWrite,
        input: LoginProfileInput,
        now_ms: i64,
    ) -> Result<User> {
        let user = self.get_user(ctx, user_id).await?;
        let exists = login_profile(&user).is_some();
        match (write, exists) {
            (ProfileWrite::Create, true) => return Err(Error::Conflict(format!("login profile of {}", user.name))),
            (ProfileWrite::Update, false) => return Err(Error::not_found("login profile", &user.name)),
            _ => {}
        }
        if input.password.is_none() && user.password_hash.is_none() {
            return Err(Error::MissingField {
                field: "password".into(),
            });
        }
        let console = input.console.unwrap_or(true);
        let change = UserInput {
            password: input.password,
            pwd_status: input.reset_required,
            access_mode: Some(
                if console {
                    UserAccessMode::Default
                } else {
                    UserAccessMode::Programmatic
                }
                .as_str()
                .to_string(),
            ),
            ..UserInput::default()
        };
        self.update_user(ctx, user_id, change, now_ms).await
    }

    /// Ends `user_id`'s console sign-in; `NotFound` when it has none.
    pub async fn delete_login_profile(&self, ctx: &AuthContext, user_id: &str, now_ms: i64) -> Result<()> {
        let user = self.get_user(ctx, user_id).await?;
        if login_profile(&user).is_none() {
            return Err(Error::not_found("login profile", &user.name));
        }
        let change = UserInput {
            access_mode: Some(UserAccessMode::Programmatic.as_str().to_string()),
            ..UserInput::default()
        };
        self.update_user(ctx, user_id, change, now_ms).await?;
        Ok(())
    }
}
