//! A fresh RabbitMQ virtual host per test, so tests can use the real exchange
//! and queue names side by side.

use std::process::Command;

use uuid::Uuid;

/// Where the machine's RabbitMQ listens, and the user that may use every vhost.
const SERVER: &str = "guest:guest@127.0.0.1:5672";

/// A virtual host no other test uses, created by `rabbitmqctl` and deleted,
/// with everything in it, when this value is dropped.
///
/// `rabbitmqctl` takes about half a second per call and blocks the calling
/// thread; that is acceptable at the start and end of a test.
#[derive(Debug)]
pub struct TestVhost {
    /// The vhost name: `test_<uuid>`, safe in a URL path without escaping.
    name: String,
}

impl TestVhost {
    /// Creates the vhost and gives `guest` every permission on it.
    ///
    /// Panics when `rabbitmqctl` fails: a test cannot run without its broker.
    pub fn new() -> Self {
        let name = format!("test_{}", Uuid::new_v4().simple());
        rabbitmqctl(&["add_vhost", &name]);
        let vhost = Self { name };
        rabbitmqctl(&["set_permissions", "-p", &vhost.name, "guest", ".*", ".*", ".*"]);
        vhost
    }

    /// The vhost's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The AMQP URL of the vhost, for `RABBITMQ_URL`.
    pub fn url(&self) -> String {
        format!("amqp://{SERVER}/{}", self.name)
    }

    /// Has the broker close every client connection to this vhost (and only
    /// this one), as a broker restart would: for testing reconnection.
    pub fn close_connections(&self) {
        rabbitmqctl(&["close_all_connections", "-p", &self.name, "closed by a test"]);
    }
}

impl Default for TestVhost {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestVhost {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl").args(["-q", "delete_vhost", &self.name]).output();
    }
}

/// Runs `rabbitmqctl -q <args>` and panics with its output when it fails.
fn rabbitmqctl(args: &[&str]) {
    let output = Command::new("rabbitmqctl")
        .arg("-q")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run rabbitmqctl {args:?}: {e}"));
    assert!(
        output.status.success(),
        "rabbitmqctl {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
