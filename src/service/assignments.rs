//! Role-assignment listings: Keystone's `GET /v3/role_assignments` (direct and `effective`,
//! with Keystone's filter rules and refusals) and the reference's
//! `GET /v3.0/OS-PERMISSION/role-assignments` (§5.8). Both list what the caller administers:
//! a cloud admin everything, a domain admin the assignments on its domain and its projects, a
//! project admin those on its project (and must ask for it by `scope.project.id`).
//!
//! fedgate grants roles to groups and agencies only, so a user's assignments are always
//! indirect: they appear when groups are expanded (`effective`), never as direct records.

use std::collections::{BTreeSet, HashMap};

use super::policy::AdminOf;
use super::{Accounts, AuthContext, Error, NameRef, Result};
use crate::model::{ActorKind, Grant, GrantFilter, ProjectFilter, TargetKind};

/// Keystone's filters, parsed at the edge.
#[derive(Debug, Default, Clone)]
pub struct AssignmentQuery {
    pub role_id: Option<String>,
    pub user_id: Option<String>,
    pub group_id: Option<String>,
    pub project_id: Option<String>,
    pub domain_id: Option<String>,
    /// `scope.OS-INHERIT:inherited_to`: `Some(true)` when it is `projects`, `Some(false)`
    /// when present with another value.
    pub inherited: Option<bool>,
    /// `scope.system` as given. Keystone refuses it beside a domain or project; `all` asks for
    /// system grants, which fedgate does not have, and other values are ignored.
    pub system: Option<String>,
    pub effective: bool,
}

/// One assignment as listed: the grant it comes from, and in effective mode the user it was
/// expanded to (group membership) and the project an inherited grant was applied to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub grant: Grant,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
}

impl Assignment {
    fn direct(grant: Grant) -> Self {
        Assignment {
            grant,
            user_id: None,
            project_id: None,
        }
    }

    /// Where the role applies: the expanded project, else the grant's target.
    pub fn target(&self) -> (TargetKind, &str) {
        match &self.project_id {
            Some(p) => (TargetKind::Project, p),
            None => (self.grant.target_kind, &self.grant.target_id),
        }
    }

    fn sort_key(&self) -> (String, String, String, String, bool) {
        let (kind, id) = self.target();
        let actor = self.user_id.clone().unwrap_or_else(|| self.grant.actor_id.clone());
        (
            kind.as_str().to_string(),
            id.to_string(),
            actor,
            self.grant.role_id.clone(),
            self.grant.inherited,
        )
    }
}

/// The reference's filters (§5.8, L8658).
#[derive(Debug, Default, Clone)]
pub struct IamAssignmentQuery {
    pub domain_id: String,
    pub role_id: Option<String>,
    pub subject: Option<Subject>,
    pub scope: Option<ScopeFilter>,
    pub is_inherited: bool,
    pub include_group: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// `subject=user|group|agency`: every record of that kind.
    Kind(SubjectKind),
    User(String),
    Group(String),
    Agency(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    User,
    Group,
    Agency,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeFilter {
    /// `scope=project|domain|enterprise_project`.
    Kind(ScopeKind),
    Project(String),
    Domain(String),
    EnterpriseProject(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    Project,
    Domain,
    EnterpriseProject,
}

/// Names for an assignment listing with `include_names` (Keystone).
#[derive(Debug, Clone)]
pub struct AssignmentNames {
    pub role: String,
    /// The user, group or agency shown, with its domain.
    pub actor: (String, NameRef),
    /// The target's name, and for a project its domain.
    pub target: (String, Option<NameRef>),
}

/// Effective listings expand members x projects; beyond this many rows (and the queries their
/// names take) a caller is asked to filter rather than hold a replica busy.
const MAX_EFFECTIVE: usize = 50_000;

fn refuse_combination(message: &str) -> Error {
    Error::BadRequest(message.to_string())
}

impl Accounts {
    /// GET /v3/role_assignments.
    pub async fn role_assignments(&self, ctx: &AuthContext, q: AssignmentQuery) -> Result<Vec<Assignment>> {
        if q.user_id.is_some() && q.group_id.is_some() {
            return Err(refuse_combination("Specify a user or group, not both"));
        }
        if q.domain_id.is_some() && q.project_id.is_some() {
            return Err(refuse_combination("Specify a domain or project, not both"));
        }
        let system = q.system.as_deref().filter(|s| !s.is_empty());
        if system.is_some() && q.domain_id.is_some() {
            return Err(refuse_combination("Specify system or domain, not both"));
        }
        if system.is_some() && q.project_id.is_some() {
            return Err(refuse_combination("Specify system or project, not both"));
        }
        if q.effective && q.group_id.is_some() {
            return Err(refuse_combination(
                "Combining effective and group filter will always result in an empty list.",
            ));
        }
        if q.effective && q.inherited == Some(true) && q.domain_id.is_some() {
            return Err(refuse_combination(
                "Combining effective, domain and inherited filters will always result in an empty list.",
            ));
        }
        let visible = self.visible_assignments(ctx, q.project_id.as_deref())?;
        let mut found = if q.effective {
            self.effective_assignments(&q).await?
        } else {
            self.direct_assignments(&q).await?
        };
        if let Some(role) = &q.role_id {
            found.retain(|a| a.grant.role_id == *role);
        }
        let mut project_domains = HashMap::new();
        let mut out = Vec::with_capacity(found.len());
        for a in found {
            if self.assignment_visible(&visible, &a, &mut project_domains).await? {
                out.push(a);
            }
        }
        out.sort_by_key(Assignment::sort_key);
        out.dedup();
        Ok(out)
    }

    /// What part of the assignments the caller may see (Keystone narrows a domain-scoped
    /// caller's listing to its domain the same way).
    fn visible_assignments<'a>(&self, ctx: &'a AuthContext, project_filter: Option<&str>) -> Result<AdminOf<'a>> {
        match self.admin_of(ctx) {
            AdminOf::Nothing => Err(Error::Forbidden(format!(
                "user {} administers nothing whose assignments it could list",
                ctx.user_id()
            ))),
            AdminOf::Project { id, .. } if project_filter != Some(id) => Err(Error::Forbidden(format!(
                "user {} administers project {id} only; list with scope.project.id={id}",
                ctx.user_id()
            ))),
            visible => Ok(visible),
        }
    }

    async fn assignment_visible(
        &self,
        visible: &AdminOf<'_>,
        a: &Assignment,
        project_domains: &mut HashMap<String, Option<String>>,
    ) -> Result<bool> {
        let (kind, target) = a.target();
        let domain = match kind {
            TargetKind::Domain => Some(target.to_string()),
            TargetKind::Project => match project_domains.get(target) {
                Some(d) => d.clone(),
                None => {
                    let d = self.store.get_project(target).await?.map(|p| p.domain_id);
                    project_domains.insert(target.to_string(), d.clone());
                    d
                }
            },
        };
        Ok(match visible {
            AdminOf::Cloud => true,
            AdminOf::Domain(d) => domain.as_deref() == Some(*d),
            AdminOf::Project { id, .. } => kind == TargetKind::Project && target == *id,
            AdminOf::Nothing => false,
        })
    }

    /// The grants as stored, filtered (no expansion). A user filter matches nothing: no role is
    /// granted to a user directly.
    async fn direct_assignments(&self, q: &AssignmentQuery) -> Result<Vec<Assignment>> {
        // Nor is anything granted on the system; effective listings ignore `scope.system`, as
        // Keystone's do.
        if q.user_id.is_some() || q.system.as_deref() == Some("all") {
            return Ok(Vec::new());
        }
        let mut filter = GrantFilter {
            inherited: q.inherited,
            ..GrantFilter::default()
        };
        if let Some(g) = &q.group_id {
            filter.actor_kind = Some(ActorKind::Group);
            filter.actor_ids = Some(vec![g.clone()]);
        }
        if let Some(p) = &q.project_id {
            filter.target_kind = Some(TargetKind::Project);
            filter.target_ids = Some(vec![p.clone()]);
        } else if let Some(d) = &q.domain_id {
            filter.target_kind = Some(TargetKind::Domain);
            filter.target_ids = Some(vec![d.clone()]);
        }
        Ok(self
            .store
            .list_grants(&filter)
            .await?
            .into_iter()
            .map(Assignment::direct)
            .collect())
    }

    /// Keystone's effective mode: group grants become one assignment per member (or for the
    /// filtered user), inherited grants one per project of their domain (or for the filtered
    /// project), as the roles a token would carry.
    async fn effective_assignments(&self, q: &AssignmentQuery) -> Result<Vec<Assignment>> {
        // Domains inherit nothing: a domain filter asks for direct domain grants only.
        let inherited = if q.domain_id.is_some() {
            Some(false)
        } else {
            q.inherited
        };
        // Keystone looks the filtered project up to find its domain's inherited grants, and
        // the filtered user to find its groups: either missing is 404, project first.
        let mut filtered_project_domain = None;
        if let (Some(p), true) = (&q.project_id, inherited != Some(false)) {
            match self.store.get_project(p).await? {
                Some(project) => filtered_project_domain = Some(project.domain_id),
                None => return Err(Error::not_found("project", p.as_str())),
            }
        }
        let actors = match &q.user_id {
            Some(user) => {
                if self.store.get_user(user).await?.is_none() && self.store.get_federated_user(user).await?.is_none() {
                    return Err(Error::not_found("user", user.as_str()));
                }
                let groups = self.store.list_groups_of_user(user).await?;
                if groups.is_empty() {
                    return Ok(Vec::new());
                }
                Some(groups.into_iter().map(|g| g.id).collect::<Vec<_>>())
            }
            None => None,
        };
        let base = GrantFilter {
            actor_kind: actors.as_ref().map(|_| ActorKind::Group),
            actor_ids: actors,
            ..GrantFilter::default()
        };
        let mut grants = Vec::new();
        if inherited != Some(true) {
            let mut direct = GrantFilter {
                inherited: Some(false),
                ..base.clone()
            };
            if let Some(p) = &q.project_id {
                direct.target_kind = Some(TargetKind::Project);
                direct.target_ids = Some(vec![p.clone()]);
            } else if let Some(d) = &q.domain_id {
                direct.target_kind = Some(TargetKind::Domain);
                direct.target_ids = Some(vec![d.clone()]);
            }
            grants.extend(self.store.list_grants(&direct).await?);
        }
        if inherited != Some(false) {
            let from_domains = GrantFilter {
                inherited: Some(true),
                target_kind: Some(TargetKind::Domain),
                target_ids: filtered_project_domain.clone().map(|d| vec![d]),
                ..base.clone()
            };
            grants.extend(self.store.list_grants(&from_domains).await?);
        }
        let mut members: HashMap<String, Vec<String>> = HashMap::new();
        let mut projects: HashMap<String, Vec<String>> = HashMap::new();
        let mut out = Vec::new();
        for grant in grants {
            let users = match (grant.actor_kind, &q.user_id) {
                (ActorKind::Group, Some(user)) => vec![Some(user.clone())],
                (ActorKind::Group, None) => {
                    if !members.contains_key(&grant.actor_id) {
                        let ids = self
                            .store
                            .list_members(&grant.actor_id)
                            .await?
                            .into_iter()
                            .map(|u| u.id)
                            .collect();
                        members.insert(grant.actor_id.clone(), ids);
                    }
                    members[&grant.actor_id].iter().cloned().map(Some).collect()
                }
                (ActorKind::Agency, _) => vec![None],
            };
            let targets: Vec<Option<String>> = if grant.inherited {
                match (&q.project_id, &filtered_project_domain) {
                    (Some(p), Some(_)) => vec![Some(p.clone())],
                    _ => {
                        if !projects.contains_key(&grant.target_id) {
                            let ids = self
                                .store
                                .list_projects(&ProjectFilter {
                                    domain_id: Some(grant.target_id.clone()),
                                    ..ProjectFilter::default()
                                })
                                .await?
                                .into_iter()
                                .map(|p| p.id)
                                .collect();
                            projects.insert(grant.target_id.clone(), ids);
                        }
                        projects[&grant.target_id].iter().cloned().map(Some).collect()
                    }
                }
            } else {
                vec![None]
            };
            if out.len() + users.len() * targets.len() > MAX_EFFECTIVE {
                return Err(Error::BadRequest(format!(
                    "The effective listing would hold more than {MAX_EFFECTIVE} assignments; narrow it with \
                     user.id, scope.project.id, scope.domain.id or role.id."
                )));
            }
            for user_id in &users {
                for project_id in &targets {
                    out.push(Assignment {
                        grant: grant.clone(),
                        user_id: user_id.clone(),
                        project_id: project_id.clone(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// GET /v3.0/OS-PERMISSION/role-assignments: the account's grants, filtered as the
    /// reference says. A user's records are its groups' (`include_group`, the default);
    /// without them a user has none.
    pub async fn iam_role_assignments(&self, ctx: &AuthContext, q: IamAssignmentQuery) -> Result<Vec<Grant>> {
        self.require_domain_admin(ctx, &q.domain_id)?;
        let mut filter = GrantFilter {
            role_id: q.role_id.clone(),
            ..GrantFilter::default()
        };
        match &q.subject {
            None => {}
            Some(Subject::Kind(SubjectKind::User)) if !q.include_group => return Ok(Vec::new()),
            // A user's records are those of the groups it is in.
            Some(Subject::Kind(SubjectKind::User | SubjectKind::Group)) => filter.actor_kind = Some(ActorKind::Group),
            Some(Subject::Kind(SubjectKind::Agency)) => filter.actor_kind = Some(ActorKind::Agency),
            Some(Subject::User(_)) if !q.include_group => return Ok(Vec::new()),
            Some(Subject::User(user)) => {
                let groups = self.store.list_groups_of_user(user).await?;
                filter.actor_kind = Some(ActorKind::Group);
                filter.actor_ids = Some(groups.into_iter().map(|g| g.id).collect());
            }
            Some(Subject::Group(g)) => {
                filter.actor_kind = Some(ActorKind::Group);
                filter.actor_ids = Some(vec![g.clone()]);
            }
            Some(Subject::Agency(a)) => {
                filter.actor_kind = Some(ActorKind::Agency);
                filter.actor_ids = Some(vec![a.clone()]);
            }
        }
        let domain_scoped = match &q.scope {
            None => false,
            Some(ScopeFilter::Kind(ScopeKind::EnterpriseProject) | ScopeFilter::EnterpriseProject(_)) => {
                // fedgate has no enterprise projects: nothing is granted on one.
                return Ok(Vec::new());
            }
            Some(ScopeFilter::Kind(ScopeKind::Project)) => {
                filter.target_kind = Some(TargetKind::Project);
                false
            }
            Some(ScopeFilter::Project(p)) => {
                filter.target_kind = Some(TargetKind::Project);
                filter.target_ids = Some(vec![p.clone()]);
                false
            }
            Some(ScopeFilter::Kind(ScopeKind::Domain)) => {
                filter.target_kind = Some(TargetKind::Domain);
                true
            }
            Some(ScopeFilter::Domain(d)) => {
                filter.target_kind = Some(TargetKind::Domain);
                filter.target_ids = Some(vec![d.clone()]);
                true
            }
        };
        // `is_inherited` only means something for domain records: false asks for the global
        // service records, true for the all-projects ones.
        if domain_scoped {
            filter.inherited = Some(q.is_inherited);
        }
        let grants = self.store.list_grants(&filter).await?;
        let mut in_account = Vec::with_capacity(grants.len());
        let account_projects: BTreeSet<String> = self
            .store
            .list_projects(&ProjectFilter {
                domain_id: Some(q.domain_id.clone()),
                ..ProjectFilter::default()
            })
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect();
        for g in grants {
            let inside = match g.target_kind {
                TargetKind::Domain => g.target_id == q.domain_id,
                TargetKind::Project => account_projects.contains(&g.target_id),
            };
            if inside {
                in_account.push(g);
            }
        }
        Ok(in_account)
    }

    pub async fn assignment_names(&self, a: &Assignment) -> Result<AssignmentNames> {
        let role = self
            .store
            .get_role(&a.grant.role_id)
            .await?
            .map(|r| r.name)
            .unwrap_or_default();
        let (actor_name, actor_domain) = match (&a.user_id, a.grant.actor_kind) {
            (Some(user_id), _) => {
                let u = self.store.get_user(user_id).await?;
                u.map(|u| (u.name, u.domain_id)).unwrap_or_default()
            }
            (None, ActorKind::Group) => {
                let g = self.store.get_group(&a.grant.actor_id).await?;
                g.map(|g| (g.name, g.domain_id)).unwrap_or_default()
            }
            (None, ActorKind::Agency) => {
                let ag = self.store.get_agency(&a.grant.actor_id).await?;
                ag.map(|ag| (ag.name, ag.domain_id)).unwrap_or_default()
            }
        };
        let actor = (
            actor_name,
            NameRef {
                name: self.domain_name(&actor_domain).await?,
                id: actor_domain,
            },
        );
        let target = match a.target() {
            (TargetKind::Domain, id) => (self.domain_name(id).await?, None),
            (TargetKind::Project, id) => match self.store.get_project(id).await? {
                Some(p) => {
                    let domain = NameRef {
                        name: self.domain_name(&p.domain_id).await?,
                        id: p.domain_id,
                    };
                    (p.name, Some(domain))
                }
                None => (String::new(), None),
            },
        };
        Ok(AssignmentNames { role, actor, target })
    }
}
