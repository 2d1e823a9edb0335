//! A child configuration shared with the connection it belongs to, not copied.

use std::ops::Deref;
use std::sync::Arc;

use crate::config::{ChildConfig, Connection};

/// One child of a connection, as exchanges in flight hold it. Cloning it is a
/// reference count: a CHILD rekey used to copy the whole `ChildConfig` (its
/// selectors and proposals, a dozen allocations) three times. It keeps its
/// connection alive, so a reload cannot take it away from an exchange.
#[derive(Clone)]
pub struct SharedChild {
    connection: Arc<Connection>,
    index: usize,
}

impl SharedChild {
    /// The child of `connection` called `name`, if it has one.
    pub fn find(connection: &Arc<Connection>, name: &str) -> Option<SharedChild> {
        let index = connection.children.iter().position(|c| c.name == name)?;
        Some(SharedChild::at(connection, index))
    }

    /// The `index`-th child of `connection`. Panics if there is none.
    pub fn at(connection: &Arc<Connection>, index: usize) -> SharedChild {
        assert!(index < connection.children.len(), "no child {index}");
        SharedChild {
            connection: connection.clone(),
            index,
        }
    }

    /// Every child of `connection`, in order.
    pub fn all(connection: &Arc<Connection>) -> impl Iterator<Item = SharedChild> + '_ {
        (0..connection.children.len()).map(|index| SharedChild::at(connection, index))
    }
}

impl Deref for SharedChild {
    type Target = ChildConfig;

    fn deref(&self) -> &ChildConfig {
        &self.connection.children[self.index]
    }
}
