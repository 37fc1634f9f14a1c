//! The role check: whether the acting user may do what a command asks, by the one role table
//! (`ctem_model::work::permits`, docs/roles.md). Every front end calls [`authorize`] before a
//! change; the CLI's actor is `$CTEM_USER`, the server's the authenticated user.
//!
//! Without an actor the caller is the store's local operator (the owner of the store file,
//! which file permissions protect) and may do everything. A store without users yet lets any
//! actor create the first ones (bootstrap); after that an actor must be a user whose role
//! permits the action.

use ctem_model::work::{Action, permits};
use ctem_store::Store;

use crate::error::{Error, Result};

/// Refuses `action` unless `actor` may perform it on `store`.
pub fn authorize(store: &dyn Store, actor: Option<&str>, action: Action) -> Result<()> {
    let Some(actor) = actor.filter(|a| !a.trim().is_empty()) else {
        return Ok(());
    };
    let users = store.users()?;
    if users.is_empty() {
        return Ok(());
    }
    let Some(user) = users.iter().find(|u| u.name == actor) else {
        return Err(Error::UnknownActor(actor.to_string()));
    };
    if permits(user.role, action) {
        Ok(())
    } else {
        Err(Error::Forbidden {
            actor: actor.to_string(),
            role: user.role.as_str().to_string(),
            action: action.as_str().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use ctem_model::work::{Role, User};
    use ctem_store::ErrorKind;
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
}
