//! The domain model: records as the store keeps them and the services read them, and the enums
//! their fields take. `store` persists them, `service` decides with them, `http` renders them;
//! none of the three owns them. Instants are Unix milliseconds.

/// Declares a closed set of values that travel as fixed strings (in the database and on the
/// wire): `as_str` for both, `parse` for reading them back, `Display` and `Serialize` for views.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value `text` names exactly (case matters), if any.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// A federation protocol: the path segment `/protocols/{protocol}` and the protocol record's id.
    Protocol { Saml => "saml", Oidc => "oidc" }
}

string_enum! {
    /// A project's status (IAM `PUT /v3-ext/projects/{id}`): a suspended project gives no scope.
    ProjectStatus { Normal => "normal", Suspended => "suspended" }
}

string_enum! {
    /// How a user may sign in: `console` users get no API tokens from a password.
    UserAccessMode { Default => "default", Programmatic => "programmatic", Console => "console" }
}

string_enum! {
    /// Whether an identity provider's users are virtual (mapped) or existing IAM users.
    SsoType { VirtualUserSso => "virtual_user_sso", IamUserSso => "iam_user_sso" }
}

string_enum! {
    /// Who holds a grant: roles go to groups and agencies only (Keystone's assignments to users
    /// appear only expanded).
    ActorKind { Group => "group", Agency => "agency" }
}

string_enum! {
    /// Where a grant applies.
    TargetKind { Domain => "domain", Project => "project" }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub id: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: String,
    pub domain_id: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub parent_id: Option<String>,
    pub status: ProjectStatus,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, Default)]
pub struct ProjectFilter {
    pub domain_id: Option<String>,
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub parent_id: Option<String>,
    pub ids: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub domain_id: String,
    pub name: String,
    pub password_hash: Option<String>,
    pub enabled: bool,
    pub description: String,
    /// A label shown beside the name (Alibaba Cloud's `DisplayName`); never looked up.
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub areacode: Option<String>,
    pub phone: Option<String>,
    pub access_mode: UserAccessMode,
    /// True when the user must reset the password at next login.
    pub pwd_status: bool,
    pub xuser_type: Option<String>,
    pub xuser_id: Option<String>,
    pub password_expires_at_ms: Option<i64>,
    pub last_project_id: Option<String>,
    pub is_domain_owner: bool,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub password_changed_at_ms: Option<i64>,
    pub last_login_at_ms: Option<i64>,
}

impl User {
    /// A new enabled local user with no password and every optional detail unset.
    pub fn new(id: String, domain_id: String, name: String, now_ms: i64) -> User {
        User {
            id,
            domain_id,
            name,
            password_hash: None,
            enabled: true,
            description: String::new(),
            display_name: None,
            email: None,
            areacode: None,
            phone: None,
            access_mode: UserAccessMode::Default,
            pwd_status: false,
            xuser_type: None,
            xuser_id: None,
            password_expires_at_ms: None,
            last_project_id: None,
            is_domain_owner: false,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            password_changed_at_ms: None,
            last_login_at_ms: None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub domain_id: Option<String>,
    pub name: Option<String>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: String,
    pub domain_id: String,
    pub name: String,
    pub description: String,
    /// A label shown beside the name (Alibaba Cloud's `DisplayName`); never looked up.
    pub display_name: Option<String>,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, Default)]
pub struct GroupFilter {
    pub domain_id: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub display_name: String,
    /// Huawei's role type: `AX` account, `XA` project, `AA` both, `XX` neither.
    pub role_type: String,
    pub catalog: String,
    pub flag: String,
    pub description: String,
    pub domain_id: Option<String>,
    /// The policy document as JSON text.
    pub policy: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// A role granted to a group or agency on a domain or project. `inherited` grants sit on a
/// domain and apply to every project in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Grant {
    pub actor_kind: ActorKind,
    pub actor_id: String,
    pub role_id: String,
    pub target_kind: TargetKind,
    pub target_id: String,
    pub inherited: bool,
}

#[derive(Debug, Clone, Default)]
pub struct GrantFilter {
    pub actor_kind: Option<ActorKind>,
    pub actor_ids: Option<Vec<String>>,
    pub role_id: Option<String>,
    pub target_kind: Option<TargetKind>,
    pub target_ids: Option<Vec<String>>,
    pub inherited: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agency {
    pub id: String,
    pub domain_id: String,
    pub name: String,
    pub trust_domain_id: String,
    pub description: String,
    /// `FOREVER` or a number of days, as the request gave it.
    pub duration: String,
    pub expire_at_ms: Option<i64>,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, Default)]
pub struct AgencyFilter {
    pub domain_id: Option<String>,
    pub name: Option<String>,
    pub trust_domain_id: Option<String>,
}

/// A revocation event as stored: `kind` is `audit`, `user` or `idp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRevocation {
    pub kind: String,
    pub subject: String,
    pub authenticated_before_ms: i64,
    /// When the event can be forgotten: every token it could match has expired by then.
    pub expires_at_ms: i64,
}

#[derive(Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub id: u32,
    /// base64 of the 32-byte secret.
    pub secret: String,
    pub created_at_ms: i64,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("id", &self.id)
            .field("secret", &"[redacted]")
            .field("created_at_ms", &self.created_at_ms)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityProvider {
    pub id: String,
    /// The account that owns the provider.
    pub domain_id: String,
    pub sso_type: SsoType,
    pub description: String,
    pub enabled: bool,
    /// Entity ids (SAML) or issuers (OIDC) this provider answers to; unique across providers.
    pub remote_ids: Vec<String>,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingRecord {
    pub id: String,
    pub domain_id: String,
    /// `{"rules": [...], "schema_version"?: "..."}` as JSON text, validated before storing.
    pub document: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolRecord {
    pub idp_id: String,
    pub id: Protocol,
    pub mapping_id: String,
}

/// One of the SP's own key pairs (`signing` or `encryption`), base64 DER.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSpKey {
    pub usage: String,
    pub private_key: String,
    pub certificate: String,
    pub created_at_ms: i64,
}

impl std::fmt::Debug for StoredSpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSpKey")
            .field("usage", &self.usage)
            .field("private_key", &"[redacted]")
            .finish()
    }
}

/// Imported IdP metadata: the original document and its parsed form (JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSamlMetadata {
    pub idp_id: String,
    pub protocol_id: Protocol,
    pub id: String,
    pub domain_id: String,
    pub xaccount_type: String,
    pub entity_id: String,
    pub data: String,
    pub parsed: String,
    pub updated_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederatedUser {
    pub id: String,
    pub idp_id: String,
    pub protocol_id: Protocol,
    pub name: String,
    pub domain_id: String,
    pub enabled: bool,
    pub created_at_ms: i64,
    pub last_login_at_ms: i64,
}

/// The lockout rule the store applies atomically when it counts a failed password login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures within the window that lock the user.
    pub max_failures: i64,
    /// How long failures are counted, from the first one.
    pub window_ms: i64,
    /// How long a lock lasts.
    pub lockout_ms: i64,
}

/// Failed password logins of one existing user, shared by every replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginFailures {
    pub user_id: String,
    /// Failures counted since `window_started_at_ms`.
    pub failures: i64,
    pub window_started_at_ms: i64,
    /// Set when the count reached the limit: login is refused before this instant.
    pub locked_until_ms: Option<i64>,
}

impl LoginFailures {
    pub fn locked_at(&self, now_ms: i64) -> bool {
        self.locked_until_ms.is_some_and(|until| until > now_ms)
    }
}

/// A permanent access key as stored: the secret only sealed (AES-256-GCM under the credential
/// key kept outside the database), never in plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAccessKey {
    /// The access key id (AK), 20 characters.
    pub access: String,
    pub user_id: String,
    /// base64 of nonce | ciphertext | tag.
    pub secret_sealed: String,
    /// Fingerprint (hex) of the credential key that sealed the secret.
    pub key_id: String,
    /// `status`: active or inactive.
    pub enabled: bool,
    pub description: String,
    pub created_at_ms: i64,
    pub last_used_at_ms: Option<i64>,
}
