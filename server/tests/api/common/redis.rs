//! A Redis server a test starts, stops and starts again on a port of its own (Debian's
//! `redis-server`), for the behaviour of each feature while Redis is away.

#![allow(clippy::expect_used)]

/// A Redis server of the test's own on `port`, which it can stop and start again.
pub struct OwnRedis {
    pub port: u16,
    process: Option<std::process::Child>,
}

impl OwnRedis {
    pub fn new() -> OwnRedis {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        OwnRedis {
            port,
            process: None,
        }
    }

    pub async fn start(&mut self) {
        let process = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (Debian's redis-server package) starts");
        self.process = Some(process);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start");
    }

    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
