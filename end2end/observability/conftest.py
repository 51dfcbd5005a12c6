"""Fixtures of the observability suite: a real Prometheus (Debian's package) scraping the
Gatehouse scripts/test.sh started, with the metrics token."""

import os
import socket
import subprocess
import tempfile
import time

import httpx
import pytest

BASE = os.environ["GATEHOUSE_URL"]
MASTER = os.environ["GATEHOUSE_MASTER_KEY"]
METRICS_TOKEN = os.environ["GATEHOUSE_METRICS_TOKEN"]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def prometheus():
    """Prometheus scraping Gatehouse's /metrics every second; yields its query function."""
    target = BASE.removeprefix("http://")
    port = free_port()
    with tempfile.TemporaryDirectory() as workdir:
        config = os.path.join(workdir, "prometheus.yml")
        with open(config, "w") as file:
            file.write(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: gatehouse\n    metrics_path: /metrics\n"
                f"    authorization:\n      credentials: {METRICS_TOKEN}\n"
                f"    static_configs:\n      - targets: ['{target}']\n"
            )
        log = open(os.path.join(workdir, "prometheus.log"), "w")
        server = subprocess.Popen(
            [
                os.environ.get("PROMETHEUS_BIN", "prometheus"),
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir}/data",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    if httpx.get(f"{url}/-/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            else:
                raise RuntimeError(open(log.name).read())

            def query(promql):
                response = httpx.get(f"{url}/api/v1/query", params={"query": promql})
                response.raise_for_status()
                return response.json()["data"]["result"]

            query.url = url
            yield query
        finally:
            server.terminate()
            server.wait(timeout=10)
            log.close()


def new_key(**body):
    response = httpx.post(
        f"{BASE}/key/generate", headers={"Authorization": f"Bearer {MASTER}"}, json=body
    )
    response.raise_for_status()
    return response.json()["key"]


def until(what, check, seconds=30):
    """Polls `check` until it returns a true value; fails naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s")
        time.sleep(0.25)
