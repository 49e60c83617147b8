//! What the RPC endpoint takes and answers, for the API document only: the actions
//! (`ACTIONS`), their parameters, and one schema per shape of answer. The handlers build their
//! answers with `json!`; each schema here names the function that builds its shape.
//!
//! The answer of `POST /` is `anyOf` these shapes, not `oneOf`: some are alike enough for one
//! body to match two (an empty `ListUsers` page is also an empty `ListUsersForGroup` page).

use std::borrow::Cow;

use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn, ParameterStyle};
use utoipa::openapi::schema::{AnyOfBuilder, Schema};
use utoipa::openapi::{ObjectBuilder, Ref, RefOr, Required, Type};
use utoipa::{IntoParams, Modify, PartialSchema, ToSchema};

use super::super::views::alibaba::{AccessKey, Credentials, RamGroup, RamUser, UserBasicInfo};
use super::{ACTIONS, IMS_VERSION, STS_VERSION};

/// The name of an action this dialect serves (`x-acs-action`, `Action`): `ACTIONS`' names.
pub struct ActionName;

impl PartialSchema for ActionName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(ACTIONS.iter().map(|a| a.name)))
            .into()
    }
}

/// The API version an action belongs to (`x-acs-version`, `Version`): IMS's or STS's.
pub struct ApiVersion;

impl PartialSchema for ApiVersion {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some([IMS_VERSION, STS_VERSION]))
            .into()
    }
}

/// The action, its version and its parameters, each optional as the operation's description
/// says: `GET /` without an action is version discovery.
pub struct CallParams;

impl IntoParams for CallParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let param = |name: &str, place: ParameterIn, schema: RefOr<Schema>, description: &str| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(place)
                .required(Required::False)
                .schema(Some(schema))
                .description(Some(description))
        };
        vec![
            param(
                "x-acs-action",
                ParameterIn::Header,
                ActionName::schema(),
                "The action (as the SDKs send it, signed).",
            )
            .build(),
            param(
                "x-acs-version",
                ParameterIn::Header,
                ApiVersion::schema(),
                "The action's API version: IMS's or STS's.",
            )
            .build(),
            param(
                "Action",
                ParameterIn::Query,
                ActionName::schema(),
                "The action, when `x-acs-action` is absent.",
            )
            .build(),
            param(
                "Version",
                ParameterIn::Query,
                ApiVersion::schema(),
                "The API version, when `x-acs-version` is absent.",
            )
            .build(),
            param(
                "parameters",
                ParameterIn::Query,
                Ref::from_schema_name(Parameters::name()).into(),
                "The action's parameters (with `POST /`, here or in the form body).",
            )
            .style(Some(ParameterStyle::Form))
            .explode(Some(true))
            .build(),
        ]
    }
}

/// `POST /` may leave its form body out: every parameter can come in the query.
pub struct FormIsOptional;

impl Modify for FormIsOptional {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let body = doc
            .paths
            .paths
            .get_mut("/")
            .and_then(|item| item.post.as_mut())
            .and_then(|op| op.request_body.as_mut());
        if let Some(body) = body {
            body.required = Some(Required::False);
        }
    }
}

/// The parameters actions read (`Params`), and what the document says of each.
const PARAMETERS: &[(&str, &str)] = &[
    (
        "UserPrincipalName",
        "`<name>@<account>.onaliyun.com`: the user a call names (IMS).",
    ),
    ("UserId", ""),
    (
        "UserAccessKeyId",
        "An access key: the one a call names, or whose owner it names.",
    ),
    ("DisplayName", ""),
    ("Comments", ""),
    ("Email", ""),
    ("MobilePhone", "`<country code>-<number>`."),
    ("NewUserPrincipalName", ""),
    ("NewDisplayName", ""),
    ("NewComments", ""),
    ("NewEmail", ""),
    ("NewMobilePhone", ""),
    ("Status", "`Active` or `Inactive`."),
    ("Marker", "Where the previous page of a list stopped."),
    ("MaxItems", "Items per page: 1 to 1000, 100 by default."),
    ("Password", ""),
    ("PasswordResetRequired", "`true` or `false`."),
    ("MFABindRequired", "Not offered: `true` is refused."),
    ("OldPassword", ""),
    ("NewPassword", ""),
    ("GroupName", ""),
    ("NewGroupName", ""),
    ("OIDCProviderName", ""),
    ("IssuerUrl", ""),
    ("ClientIds", "Comma-separated."),
    ("ClientId", ""),
    ("Fingerprints", "Comma-separated SHA-1 fingerprints (40 hex digits)."),
    ("Fingerprint", ""),
    ("IssuanceLimitTime", "Hours: 1 to 168, 12 by default."),
    ("Description", ""),
    ("NewDescription", ""),
    ("SAMLProviderName", ""),
    ("EncodedSAMLMetadataDocument", "The SAML metadata document, in base64."),
    ("NewEncodedSAMLMetadataDocument", ""),
    ("SsoEnabled", "`true` or `false`."),
    (
        "SsoLoginWithDomain",
        "`true` only: NameIDs are `<user>@<auxiliary domain>`.",
    ),
    ("AuthnSignAlgo", "`rsa-sha256` only."),
    ("AuxiliaryDomain", ""),
    (
        "MetadataDocument",
        "The identity provider's SAML metadata document, in base64.",
    ),
    ("RoleArn", "`acs:ram::<account id>:role/<role name>`."),
    ("RoleSessionName", ""),
    ("Policy", "An Alibaba session policy, as JSON text."),
    ("DurationSeconds", "The session's seconds, 3600 by default."),
    ("OIDCProviderArn", "`acs:ram::<account id>:oidc-provider/<name>`."),
    ("OIDCToken", ""),
    ("SAMLProviderArn", "`acs:ram::<account id>:saml-provider/<name>`."),
    ("SAMLAssertion", "The SAML response, in base64."),
];

/// The parameters as one object: the form body, or the query's parameters (exploded).
pub struct Parameters;

impl PartialSchema for Parameters {
    fn schema() -> RefOr<Schema> {
        PARAMETERS
            .iter()
            .fold(ObjectBuilder::new(), |object, (name, description)| {
                let text = ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description((!description.is_empty()).then_some(*description));
                object.property(*name, text)
            })
            .description(Some(
                "The parameters actions read: text each, each name once. Other names are ignored.",
            ))
            .into()
    }
}

impl ToSchema for Parameters {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("AlibabaParameters")
    }
}

/// The answer of any action: `anyOf` the shapes below, each with `RequestId`.
pub struct Answer;

/// Each shape's schema, and what it references.
macro_rules! shapes {
    ($($shape:ty),+ $(,)?) => {
        impl PartialSchema for Answer {
            fn schema() -> RefOr<Schema> {
                AnyOfBuilder::new()
                    $(.item(utoipa::openapi::Ref::from_schema_name(<$shape as ToSchema>::name())))+
                    .description(Some("The action's answer, in the shape of its kind."))
                    .into()
            }
        }

        impl ToSchema for Answer {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed("AlibabaAnswer")
            }

            fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
                $(schemas.push((<$shape as ToSchema>::name().into_owned(), <$shape as PartialSchema>::schema()));
                <$shape as ToSchema>::schemas(schemas);)+
            }
        }
    };
}

shapes!(
    Done,
    UserAnswer,
    UserPage,
    UserBasicInfoPage,
    GroupMemberPage,
    LoginProfileAnswer,
    AccessKeyAnswer,
    AccessKeysAnswer,
    AccessKeyLastUsedAnswer,
    GroupAnswer,
    GroupPage,
    GroupsOfUserAnswer,
    OidcProviderAnswer,
    OidcProviderPage,
    SamlProviderAnswer,
    SamlProviderPage,
    UserSsoSettingsAnswer,
    CallerIdentity,
    AssumedRole,
);

/// An action that answers nothing more: the deletes, `UpdateAccessKey`, `AddUserToGroup`,
/// `RemoveUserFromGroup`, `ChangePassword`.
#[derive(ToSchema)]
#[schema(as = AlibabaDone, rename_all = "PascalCase")]
#[allow(dead_code)]
pub struct Done {
    request_id: String,
}

/// `{"User"}`: `CreateUser`, `GetUser`, `UpdateUser` (`ims::body`).
#[derive(ToSchema)]
#[schema(as = AlibabaUserAnswer, rename_all = "PascalCase")]
#[allow(dead_code)]
pub struct UserAnswer {
    request_id: String,
    user: RamUser,
}

/// A page of a list (`list_body`): `IsTruncated`, and `Marker` when it is.
macro_rules! page {
    ($name:ident, $schema:ident, $items:ident, $plural:literal, $singular:literal, $item:ty) => {
        #[derive(ToSchema)]
        #[allow(dead_code)]
        pub struct $items {
            #[schema(rename = $singular)]
            items: Vec<$item>,
        }

        #[derive(ToSchema)]
        #[schema(as = $schema, rename_all = "PascalCase")]
        #[allow(dead_code)]
        pub struct $name {
            request_id: String,
            #[schema(rename = $plural, inline)]
            items: $items,
            is_truncated: bool,
            /// The next page's `Marker`, only when there is one.
            #[schema(required = false)]
            marker: String,
        }
    };
}

page!(UserPage, AlibabaUserPage, Users, "Users", "User", RamUser);
page!(
    UserBasicInfoPage,
    AlibabaUserBasicInfoPage,
    UserBasicInfos,
    "UserBasicInfos",
    "UserBasicInfo",
    UserBasicInfo
);
page!(
    GroupMemberPage,
    AlibabaGroupMemberPage,
    GroupMembers,
    "Users",
    "User",
    UserBasicInfo
);
page!(GroupPage, AlibabaGroupPage, Groups, "Groups", "Group", RamGroup);
page!(
    OidcProviderPage,
    AlibabaOidcProviderPage,
    OidcProviders,
    "OIDCProviders",
    "OIDCProvider",
    OidcProvider
);
page!(
    SamlProviderPage,
    AlibabaSamlProviderPage,
    SamlProviders,
    "SAMLProviders",
    "SAMLProvider",
    SamlProvider
);

/// `{"LoginProfile"}` (`ims::login_profile_view`, and `write_login_profile` for a profile
/// switched off, which has no `CreateDate`).
#[derive(ToSchema)]
#[schema(as = AlibabaLoginProfileAnswer, rename_all = "PascalCase")]
#[allow(dead_code)]
pub struct LoginProfileAnswer {
    request_id: String,
    #[schema(inline)]
    login_profile: LoginProfile,
}

#[derive(ToSchema)]
#[schema(rename_all = "PascalCase")]
#[allow(dead_code)]
pub struct LoginProfile {
    user_principal_name: String,
    password_reset_required: bool,
    /// Always `false`: MFA is not offered.
    #[schema(rename = "MFABindRequired")]
    mfa_bind_required: bool,
    /// `Active` or `Inactive`.
    status: String,
    /// Only while the profile is `Active`.
    #[schema(required = false)]
    create_date: String,
}

/// `{"AccessKey"}`, with its secret: `CreateAccessKey`.
#[derive(ToSchema)]
#[schema(as = AlibabaAccessKeyAnswer, rename_all = "PascalCase")]
#[allow(dead_code)]
pub struct AccessKeyAnswer {
    request_id: String,
    access_key: AccessKey,
}

/// `{"AccessKeys": {"AccessKey": [...]}}`, without secrets: `ListAccessKeys`.
#[derive(ToSchema)]
#[schema(as = AlibabaAccessKeysAnswer, rename_all = "PascalCase")]
#[allow(dead_code)]
pub struct AccessKeysAnswer {
    request_id: String,
    #[schema(inline)]
    access_keys: AccessKeys,
}

#[derive(ToSchema)]
#[schema(rename_all = "PascalCase")]
#[allow(dead_code)]
pub struct AccessKeys {
    access_key: Vec<AccessKey>,
}

/// `{"AccessKeyLastUsed": {"LastUsedDate"}}`: `GetAccessKeyLastUsed`.
#[derive(ToSchema)]
#[schema(as = AlibabaAccessKeyLastUsedAnswer, rename_all = "PascalCase")]
#[allow(dead_code)]
pub struct AccessKeyLastUsedAnswer {
    request_id: String,
    #[schema(inline)]
    access_key_last_used: AccessKeyLastUsed,
}

#[derive(ToSchema)]
#[schema(rename_all = "PascalCase")]
#[allow(dead_code)]
pub struct AccessKeyLastUsed {
    /// `2015-01-23T12:33:18Z`; `""` if never used.
    last_used_date: String,
}

/// `{"Group"}`: `CreateGroup`, `GetGroup`, `UpdateGroup`.
#[derive(ToSchema)]
#[schema(as = AlibabaGroupAnswer, rename_all = "PascalCase")]
#[allow(dead_code)]
pub struct GroupAnswer {
    request_id: String,
    group: RamGroup,
}

/// `{"Groups": {"Group": [...]}}`, not paged: `ListGroupsForUser`.
#[derive(ToSchema)]
#[schema(as = AlibabaGroupsOfUserAnswer, rename_all = "PascalCase")]
#[allow(dead_code)]
pub struct GroupsOfUserAnswer {
    request_id: String,
    #[schema(inline)]
    groups: Groups,
}

/// `{"OIDCProvider"}` (`sso::oidc_view`): the OIDC provider actions but the delete and list.
#[derive(ToSchema)]
#[schema(as = AlibabaOidcProviderAnswer, rename_all = "PascalCase")]
#[allow(dead_code)]
pub struct OidcProviderAnswer {
    request_id: String,
    #[schema(rename = "OIDCProvider")]
    oidc_provider: OidcProvider,
}

/// An OIDC provider (`sso::oidc_view`).
#[derive(ToSchema)]
#[schema(as = AlibabaOidcProvider, rename_all = "PascalCase")]
#[allow(dead_code)]
pub struct OidcProvider {
    /// `acs:ram::<account id>:oidc-provider/<name>`.
    arn: String,
    #[schema(rename = "OIDCProviderName")]
    oidc_provider_name: String,
    issuer_url: String,
    /// Comma-separated.
    client_ids: String,
    /// Comma-separated.
    fingerprints: String,
    description: String,
    /// Hours.
    issuance_limit_time: i64,
    create_date: String,
    update_date: String,
    gmt_create: String,
    gmt_modified: String,
}

/// `{"SAMLProvider"}` (`sso::saml_view`): `CreateSAMLProvider`, `GetSAMLProvider` (with the
/// metadata), `UpdateSAMLProvider`.
#[derive(ToSchema)]
#[schema(as = AlibabaSamlProviderAnswer, rename_all = "PascalCase")]
#[allow(dead_code)]
pub struct SamlProviderAnswer {
    request_id: String,
    #[schema(rename = "SAMLProvider")]
    saml_provider: SamlProvider,
}

/// A SAML provider (`sso::saml_view`).
#[derive(ToSchema)]
#[schema(as = AlibabaSamlProvider, rename_all = "PascalCase")]
#[allow(dead_code)]
pub struct SamlProvider {
    /// `acs:ram::<account id>:saml-provider/<name>`.
    arn: String,
    #[schema(rename = "SAMLProviderName")]
    saml_provider_name: String,
    description: String,
    create_date: String,
    update_date: String,
    /// The metadata, in base64: `GetSAMLProvider` only.
    #[schema(rename = "EncodedSAMLMetadataDocument", required = false)]
    encoded_saml_metadata_document: String,
}

/// `{"UserSsoSettings"}` (`sso::user_sso_view`): `GetUserSsoSettings`, `SetUserSsoSettings`.
#[derive(ToSchema)]
#[schema(as = AlibabaUserSsoSettingsAnswer, rename_all = "PascalCase")]
#[allow(dead_code)]
pub struct UserSsoSettingsAnswer {
    request_id: String,
    #[schema(inline)]
    user_sso_settings: UserSsoSettings,
}

#[derive(ToSchema)]
#[schema(rename_all = "PascalCase")]
#[allow(dead_code)]
pub struct UserSsoSettings {
    sso_enabled: bool,
    /// In base64; `""` when not configured.
    metadata_document: String,
    auxiliary_domain: String,
    sso_login_with_domain: bool,
    /// `rsa-sha256`.
    authn_sign_algo: String,
}

/// `GetCallerIdentity` (`sts::caller_identity`): a RAM user, or an assumed role.
#[derive(ToSchema)]
#[schema(as = AlibabaCallerIdentity, rename_all = "PascalCase")]
#[allow(dead_code)]
pub struct CallerIdentity {
    request_id: String,
    account_id: String,
    /// `RAMUser` or `AssumedRoleUser`.
    identity_type: String,
    arn: String,
    principal_id: String,
    /// A RAM user's only.
    #[schema(required = false)]
    user_id: String,
    /// An assumed role's only.
    #[schema(required = false)]
    role_id: String,
}

/// `AssumeRole`, `AssumeRoleWithOIDC`, `AssumeRoleWithSAML` (`sts::assume_role`).
#[derive(ToSchema)]
#[schema(as = AlibabaAssumedRole, rename_all = "PascalCase")]
#[allow(dead_code)]
pub struct AssumedRole {
    request_id: String,
    credentials: Credentials,
    #[schema(inline)]
    assumed_role_user: AssumedRoleUser,
}

#[derive(ToSchema)]
#[schema(rename_all = "PascalCase")]
#[allow(dead_code)]
pub struct AssumedRoleUser {
    /// `acs:ram::<account id>:assumed-role/<role>/<session>`.
    arn: String,
    /// `<role>:<session>`.
    assumed_role_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document lists every parameter an action reads, and no other.
    #[test]
    fn the_parameters_are_the_ones_actions_read() {
        let sources = [
            include_str!("mod.rs"),
            include_str!("ims.rs"),
            include_str!("sso.rs"),
            include_str!("sts.rs"),
        ];
        let readers = [
            "p.get(\"",
            "p.required(\"",
            "p.owned(\"",
            "p.flag(\"",
            "p.status(\"",
            "self.get(\"",
            "provider_arn(p, \"",
        ];
        let mut read = Vec::new();
        for source in sources {
            // A call split over lines (`p\n    .get(`) reads as one.
            let code = source.lines().map(str::trim).fold(String::new(), |mut code, line| {
                if !line.starts_with('.') {
                    code.push(' ');
                }
                code.push_str(line);
                code
            });
            for reader in readers {
                for (at, _) in code.match_indices(reader) {
                    // `p` itself, not the end of a longer name (`map.get`).
                    if code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                        continue;
                    }
                    let rest = &code[at + reader.len()..];
                    read.extend(rest.split('"').next().map(str::to_string));
                }
            }
        }
        read.sort();
        read.dedup();
        let mut listed: Vec<String> = PARAMETERS.iter().map(|(name, _)| name.to_string()).collect();
        listed.sort();
        assert_eq!(read, listed);
    }
}
