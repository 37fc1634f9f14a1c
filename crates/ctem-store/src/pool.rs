//! Handles for a multi-threaded front end. A [`Store`] is `Send` (a handle moves to the
//! thread that uses it) but not `Sync` (SQLite connections are single-threaded), so a server
//! shares a [`Pool`] (`Send + Sync`) and each request takes a handle of its own from it.
//! The pool opens handles through a [`Connector`], one per backend, and keeps the idle ones.

use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

use crate::{OpenOptions, Result, Store};

/// Opens new handles on one store.
pub trait Connector: Send + Sync {
    fn connect(&self) -> Result<Box<dyn Store>>;
}

/// A connector that opens the store at a URL ([`crate::open_with`]).
pub struct UrlConnector {
    pub url: String,
    pub options: OpenOptions,
}

impl Connector for UrlConnector {
    fn connect(&self) -> Result<Box<dyn Store>> {
        crate::open_with(&self.url, &self.options)
    }
}

/// Idle handles on one store, handed out one per thread.
pub struct Pool {
    connector: Box<dyn Connector>,
    idle: Mutex<Vec<Box<dyn Store>>>,
    max_idle: usize,
}

impl Pool {
    /// A pool over `connector`. The first handle is opened at once, so a bad URL or a
    /// schema too new fails here and the migrations have run before any thread asks.
    pub fn new(connector: Box<dyn Connector>, max_idle: usize) -> Result<Self> {
        let first = connector.connect()?;
        Ok(Pool {
            connector,
            idle: Mutex::new(vec![first]),
            max_idle: max_idle.max(1),
        })
    }

    /// An idle handle, or a new one.
    pub fn get(&self) -> Result<Pooled<'_>> {
        let idle = self.idle.lock().map(|mut v| v.pop()).unwrap_or(None);
        let store = match idle {
            Some(s) => s,
            None => self.connector.connect()?,
        };
        Ok(Pooled {
            pool: self,
            store: Some(store),
        })
    }

    /// How many handles wait idle.
    pub fn idle(&self) -> usize {
        self.idle.lock().map(|v| v.len()).unwrap_or(0)
    }
}

/// A handle taken from a [`Pool`]; it goes back when dropped.
pub struct Pooled<'a> {
    pool: &'a Pool,
    store: Option<Box<dyn Store>>,
}

impl Deref for Pooled<'_> {
    type Target = dyn Store;
    fn deref(&self) -> &Self::Target {
        match &self.store {
            Some(s) => s.as_ref(),
            None => unreachable!("a pooled handle holds its store until dropped"),
        }
    }
}

impl DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match &mut self.store {
            Some(s) => s.as_mut(),
            None => unreachable!("a pooled handle holds its store until dropped"),
        }
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let (Some(s), Ok(mut idle)) = (self.store.take(), self.pool.idle.lock())
            && idle.len() < self.pool.max_idle
        {
            idle.push(s);
        }
    }
}
