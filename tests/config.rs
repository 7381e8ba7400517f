//! The binary's configuration: a Kafka-style server.properties is read, unknown keys are
//! warned about, invalid values stop start-up with a message naming the key, and a log
//! that is not a terminal is plain text.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn riffle() -> Command {
    Command::new(env!("CARGO_BIN_EXE_riffle"))
}

#[test]
fn invalid_values_are_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.properties");
    std::fs::write(&path, "num.partitions=zero\n").unwrap();
    let output = riffle().arg("--config").arg(&path).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("num.partitions"), "{stderr}");

    let output = riffle().args(["--override", "log.segment.bytes=1000"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("log.segment.bytes"));

    let missing = riffle().args(["--config", "/no/such/file.properties"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn a_kafka_server_properties_file_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let data = dir.path().join("kafka-logs");
    let properties = format!(
        "# A Kafka broker config\n\
         node.id=3\n\
         process.roles=broker,controller\n\
         listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:0\n\
         log.dirs={}\n\
         num.partitions=5\n\
         auto.create.topics.enable=true\n\
         log.segment.bytes=1048576\n\
         message.max.bytes=2000000\n\
         log.flush.interval.messages=1\n\
         log.flush.interval.ms=1000\n\
         socket.request.max.bytes=2097152\n",
        data.display()
    );
    let path = dir.path().join("server.properties");
    std::fs::write(&path, properties).unwrap();
    let mut child = riffle().arg("--config").arg(&path).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "riffle listens on the configured port");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The port listens before the data directory is opened (connections wait in the
    // backlog), so wait for the broker's identity file itself.
    while !data.join("meta.properties").exists() {
        assert!(Instant::now() < deadline, "riffle wrote meta.properties");
        std::thread::sleep(Duration::from_millis(20));
    }
    let meta = std::fs::read_to_string(data.join("meta.properties")).unwrap();
    assert!(meta.contains("node.id=3"), "{meta}");
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(child.wait().unwrap().success());
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(stderr.contains("process.roles"), "unknown keys are warned about: {stderr}");
    // Not a terminal: plain text, so "grep ' WARN '" on a log file finds the level.
    assert!(!stderr.contains('\u{1b}'), "no colour escapes in a piped log: {stderr:?}");
    assert!(stderr.contains(" WARN "), "{stderr}");
}
