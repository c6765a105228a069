//! `/<dir>/listeners`: one ephemeral node per live instance, named by its instance id.

use zookeeper_client::{Acls, Client, CreateMode, Error as ZkError};

use crate::error::{Error, Result};
use crate::paths::Paths;

/// Creates this instance's listener node on the client's session.
///
/// The node is ephemeral, so the server deletes it when the session ends. If a node with
/// this id exists and belongs to this session (a retry after a connection loss), it is
/// kept; one that belongs to another live session fails with [`Error::InstanceIdInUse`].
pub(crate) async fn register(client: &Client, paths: &Paths, acls: Acls<'_>) -> Result<()> {
    let persistent = CreateMode::Persistent.with_acls(acls);
    match client.create(&paths.listeners, &[], &persistent).await {
        Ok(_) | Err(ZkError::NodeExists) => {}
        Err(error) => return Err(Error::zookeeper("create", &paths.listeners, error)),
    }

    let ephemeral = CreateMode::Ephemeral.with_acls(acls);
    match client.create(&paths.listener, &[], &ephemeral).await {
        Ok(_) => Ok(()),
        Err(ZkError::NodeExists) => match client.check_stat(&paths.listener).await {
            Ok(Some(stat)) if stat.ephemeral_owner == client.session_id().0 => Ok(()),
            Ok(Some(stat)) => Err(Error::InstanceIdInUse {
                path: paths.listener.clone(),
                owner: format!("{:#x}", stat.ephemeral_owner),
            }),
            // Deleted between the two requests: its session just ended, so try again.
            Ok(None) => Box::pin(register(client, paths, acls)).await,
            Err(error) => Err(Error::zookeeper("exists", &paths.listener, error)),
        },
        Err(error) => Err(Error::zookeeper("create", &paths.listener, error)),
    }
}

/// Deletes this instance's listener node.
pub(crate) async fn unregister(client: &Client, paths: &Paths) -> Result<()> {
    match client.delete(&paths.listener, None).await {
        Ok(()) | Err(ZkError::NoNode) => Ok(()),
        Err(error) => Err(Error::zookeeper("delete", &paths.listener, error)),
    }
}

/// Lists the ids of the live instances, sorted.
pub(crate) async fn instances(client: &Client, paths: &Paths) -> Result<Vec<String>> {
    match client.list_children(&paths.listeners).await {
        Ok(mut ids) => {
            ids.sort_unstable();
            Ok(ids)
        }
        Err(ZkError::NoNode) => Ok(Vec::new()),
        Err(error) => Err(Error::zookeeper("list_children", &paths.listeners, error)),
    }
}
