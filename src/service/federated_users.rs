//! Federated (shadow) users as Keystone shows them under /v3/users: read, listed by identity
//! provider, and disabled or enabled by the admins of the provider's account. Disabling one
//! revokes its tokens at once and refuses its next login; nothing else about it is editable
//! (its name and groups come from the identity provider at every login).

use super::admin::UserInput;
use super::{Accounts, AuthContext, Error, Result};
use crate::audit::{Action, Resource};
use crate::model::{FederatedUser, User};

/// A user as /v3/users/{id} finds it: stored locally, or known from federated logins.
#[derive(Debug, Clone)]
pub enum AnyUser {
    Local(Box<User>),
    Federated(FederatedUser),
}

impl Accounts {
    /// GET /v3/users/{id}: a local user, else a shadow user. The user itself may read it, as
    /// may the admins of its domain.
    pub async fn get_any_user(&self, ctx: &AuthContext, id: &str) -> Result<AnyUser> {
        if self.store.get_user(id).await?.is_some() {
            return Ok(AnyUser::Local(Box::new(self.get_user(ctx, id).await?)));
        }
        let shadow = self
            .store
            .get_federated_user(id)
            .await?
            .ok_or_else(|| Error::not_found("user", id))?;
        self.require_self_or_domain_admin(ctx, &shadow.id, &shadow.domain_id)?;
        Ok(AnyUser::Federated(shadow))
    }

    /// PATCH /v3/users/{id}: a local user as `update_user` does; a shadow user takes only
    /// `enabled`.
    pub async fn update_any_user(&self, ctx: &AuthContext, id: &str, input: UserInput, now_ms: i64) -> Result<AnyUser> {
        if self.store.get_user(id).await?.is_some() {
            return Ok(AnyUser::Local(Box::new(
                self.update_user(ctx, id, input, now_ms).await?,
            )));
        }
        // `update_user` audits a local user's change; this one a shadow user's.
        let result = self.update_shadow_user(ctx, id, input, now_ms).await;
        self.audit_change(ctx, Action::Updated(Resource::User), Some(id), &result);
        result
    }

    async fn update_shadow_user(&self, ctx: &AuthContext, id: &str, input: UserInput, now_ms: i64) -> Result<AnyUser> {
        let mut shadow = self
            .store
            .get_federated_user(id)
            .await?
            .ok_or_else(|| Error::not_found("user", id))?;
        self.require_domain_admin(ctx, &shadow.domain_id)?;
        let enabled = only_enabled(&input)?;
        if enabled != shadow.enabled {
            if !self.store.set_federated_user_enabled(&shadow.id, enabled).await? {
                return Err(Error::not_found("user", id));
            }
            if !enabled {
                self.tokens.revoke_user(&shadow.id, now_ms).await?;
            }
            self.invalidate_cache();
            tracing::info!(user.id = %shadow.id, idp.id = %shadow.idp_id, enabled, "federated user status changed");
            shadow.enabled = enabled;
        }
        Ok(AnyUser::Federated(shadow))
    }

    /// GET /v3/users?idp_id=X (Keystone's filter): the provider's shadow users.
    pub async fn list_federated_users(&self, ctx: &AuthContext, idp_id: &str) -> Result<Vec<FederatedUser>> {
        let idp = self
            .store
            .get_idp(idp_id)
            .await?
            .ok_or_else(|| Error::not_found("identity provider", idp_id))?;
        self.require_domain_admin(ctx, &idp.domain_id)?;
        Ok(self.store.list_federated_users(&idp.id).await?)
    }
}

/// The one change a federated user accepts.
fn only_enabled(input: &UserInput) -> Result<bool> {
    let UserInput {
        enabled,
        name,
        domain_id,
        password,
        description,
        email,
        areacode,
        phone,
        pwd_status,
        xuser_type,
        xuser_id,
        access_mode,
        display_name,
    } = input;
    let others = [
        name.is_some(),
        domain_id.is_some(),
        password.is_some(),
        description.is_some(),
        email.is_some(),
        areacode.is_some(),
        phone.is_some(),
        pwd_status.is_some(),
        xuser_type.is_some(),
        xuser_id.is_some(),
        access_mode.is_some(),
        display_name.is_some(),
    ];
    if others.iter().any(|set| *set) {
        return Err(Error::invalid(
            "user",
            "a federated user's attributes come from its identity provider; only enabled can be set",
        ));
    }
    enabled.ok_or_else(|| Error::MissingField {
        field: "user.enabled".into(),
    })
}
