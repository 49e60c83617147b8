//! Permanent access keys (`/v3.0/OS-CREDENTIAL/credentials`): what signed-request
//! verification needs from them.

use std::sync::Arc;

use super::{Result, Services};

/// A permanent access key as signed-request verification needs it.
pub struct PermanentKey {
    pub access: String,
    pub user_id: String,
    /// The secret access key, decrypted.
    pub secret: String,
    pub active: bool,
}

impl std::fmt::Debug for PermanentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PermanentKey")
            .field("access", &self.access)
            .field("user_id", &self.user_id)
            .field("secret", &"[redacted]")
            .field("active", &self.active)
            .finish()
    }
}

impl Services {
    /// The permanent key with this access key id, or None when there is none.
    pub async fn permanent_key(&self, access: &str, now_ms: i64) -> Result<Option<Arc<PermanentKey>>> {
        let _ = (access, now_ms);
        Ok(None)
    }

    /// Notes that a request signed with `access` verified at `now_ms`.
    pub fn note_key_use(&self, access: &str, now_ms: i64) {
        let _ = (access, now_ms);
    }
}
