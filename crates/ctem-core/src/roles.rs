//! The role check: whether the acting user may do what a command asks, by the one role table
//! (`ctem_model::work::permits`, docs/roles.md), and the audit entry of the change it allows.
//! Every front end calls [`change`] for a change (or [`authorize`] for a read that needs a
//! role); the CLI's actor is `$CTEM_USER`, the server's the authenticated user.
//!
//! Without an actor the caller is the store's local operator (the owner of the store file,
//! which file permissions protect) and may do everything; the audit log names it `local`. A
//! store without users yet lets any actor create the first ones (bootstrap); after that an
//! actor must be a user whose role permits the action.

use chrono::Utc;
use ctem_model::work::{Action, Role, permits};
use ctem_store::Store;
use ctem_store::auth::AuditEntry;

use crate::error::{Error, Result};

/// Who acts, once the role check let them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The user's name, or `local` for the local operator.
    pub name: String,
    /// The user's role; `None` for the local operator and for the bootstrap of a store
    /// without users.
    pub role: Option<Role>,
}

/// Refuses `action` unless `actor` may perform it on `store`; returns who acts.
pub fn authorize(store: &dyn Store, actor: Option<&str>, action: Action) -> Result<Actor> {
    let Some(actor) = actor.filter(|a| !a.trim().is_empty()) else {
        return Ok(Actor {
            name: "local".into(),
            role: None,
        });
    };
    let users = store.users()?;
    if users.is_empty() {
        return Ok(Actor {
            name: actor.to_string(),
            role: None,
        });
    }
    let Some(user) = users.iter().find(|u| u.name == actor) else {
        return Err(Error::UnknownActor(actor.to_string()));
    };
    if permits(user.role, action) {
        Ok(Actor {
            name: user.name.clone(),
            role: Some(user.role),
        })
    } else {
        Err(Error::Forbidden {
            actor: actor.to_string(),
            role: user.role.as_str().to_string(),
            action: action.as_str().to_string(),
        })
    }
}

/// A change for the role check and the audit log.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    /// The action of the role table it needs.
    pub action: Action,
    /// What the audit log records (`teams.add`, `tickets.move`, ...).
    pub what: &'a str,
    /// `cli`, `api` or `web`.
    pub via: &'a str,
}

/// The role check and the audit entry of one change: refuses unless `actor` may perform
/// `change.action`, runs `apply` (which returns its result and the target the audit log
/// names: `team red`, `ticket 12`), and writes the audit entry once it succeeded.
pub fn change<T, E: From<Error>>(
    store: &mut dyn Store,
    actor: Option<&str>,
    change: Change<'_>,
    apply: impl FnOnce(&mut dyn Store, &Actor) -> std::result::Result<(T, String), E>,
) -> std::result::Result<T, E> {
    let who = authorize(store, actor, change.action)?;
    let (out, target) = apply(store, &who)?;
    store
        .audit(&AuditEntry {
            id: 0,
            at: Utc::now(),
            actor: who.name,
            via: change.via.into(),
            remote: None,
            action: change.what.into(),
            target,
            detail: None,
        })
        .map_err(Error::from)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use ctem_model::work::{Role, User};
    use ctem_store::ErrorKind;
    use ctem_store::auth::AuthStore;
    use ctem_store::sqlite::SqliteStore;
    use ctem_store::work::WorkStore;

    use super::*;

    fn user(name: &str, role: Role) -> User {
        User {
            name: name.into(),
            email: None,
            role,
            teams: Vec::new(),
        }
    }

    #[test]
    fn the_role_table_decides_once_users_exist() {
        let mut s = SqliteStore::in_memory().expect("store");
        // bootstrap: no user yet, anyone may create the first
        authorize(&s, Some("alice"), Action::ManageTeams).expect("bootstrap");
        s.put_user(&user("alice", Role::Admin)).expect("user");
        s.put_user(&user("bob", Role::ItOperations)).expect("user");
        authorize(&s, Some("alice"), Action::ManageTeams).expect("admin");
        authorize(&s, Some("bob"), Action::WorkTickets).expect("it operations works tickets");
        let e = authorize(&s, Some("bob"), Action::ManageTeams).expect_err("refused");
        assert_eq!(e.kind(), ErrorKind::Forbidden);
        assert_eq!(e.to_string(), "bob (it_operations) may not manage_teams");
        let e = authorize(&s, Some("mallory"), Action::ReadExposures).expect_err("unknown");
        assert_eq!(e.kind(), ErrorKind::Forbidden);
        authorize(&s, None, Action::ManageTeams).expect("the local operator");
    }

    #[test]
    fn a_change_is_audited_once_it_succeeded_and_never_when_refused() {
        let mut s = SqliteStore::in_memory().expect("store");
        s.put_user(&user("alice", Role::Admin)).expect("user");
        s.put_user(&user("bob", Role::Viewer)).expect("user");
        let add = Change {
            action: Action::ManageTeams,
            what: "teams.add",
            via: "cli",
        };
        let team = |name: &str| ctem_model::work::Team {
            name: name.into(),
            description: None,
        };
        let e = change(&mut s, Some("bob"), add, |s, _| -> Result<((), String)> {
            s.put_team(&team("red"))?;
            Ok(((), "team red".into()))
        })
        .expect_err("a viewer may not");
        assert_eq!(e.kind(), ErrorKind::Forbidden);
        assert!(s.teams().expect("teams").is_empty(), "nothing changed");
        let failed = change(&mut s, Some("alice"), add, |_, _| -> Result<((), String)> {
            Err(Error::Store(ctem_store::Error::Invalid("no".into())))
        });
        assert!(failed.is_err());
        assert!(s.audit_log(None, None).expect("log").is_empty());
        change(
            &mut s,
            Some("alice"),
            add,
            |s, who| -> Result<((), String)> {
                assert_eq!(who.role, Some(Role::Admin));
                s.put_team(&team("blue"))?;
                Ok(((), "team blue".into()))
            },
        )
        .expect("an admin may");
        change(&mut s, None, add, |_, who| -> Result<((), String)> {
            assert_eq!(who.name, "local");
            Ok(((), "team green".into()))
        })
        .expect("the local operator may");
        let log = s.audit_log(None, None).expect("log");
        let got: Vec<(&str, &str, &str, &str)> = log
            .iter()
            .map(|e| {
                (
                    e.actor.as_str(),
                    e.via.as_str(),
                    e.action.as_str(),
                    e.target.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("alice", "cli", "teams.add", "team blue"),
                ("local", "cli", "teams.add", "team green")
            ]
        );
    }
}
