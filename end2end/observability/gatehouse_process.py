"""A Gatehouse of a test's own: the debug binary scripts/test.sh built, on a free port, with
a config the test writes and extra environment variables, against the end-to-end database."""

import os
import subprocess
import tempfile
import time

import httpx

from conftest import free_port

BINARY = os.path.join(os.environ["CARGO_TARGET_DIR"], "debug", "gatehouse")


class Gatehouse:
    def __init__(self, config, environment):
        self.workdir = tempfile.TemporaryDirectory()
        path = os.path.join(self.workdir.name, "config.yaml")
        with open(path, "w") as file:
            file.write(config)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(self.workdir.name, "gatehouse.log"), "w")
        env = dict(os.environ)
        env["DATABASE_URL"] = os.environ["GATEHOUSE_E2E_DATABASE_URL"]
        env.update(environment)
        self.process = subprocess.Popen(
            [BINARY, "--config", path, "--port", str(self.port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        for _ in range(150):
            try:
                if httpx.get(f"{self.url}/health/readiness").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(open(self.log.name).read())

    def stop(self):
        """Stops it the way an orchestrator does (SIGTERM), letting it send what it holds;
        returns what it logged."""
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()
        with open(self.log.name) as file:
            logged = file.read()
        self.workdir.cleanup()
        return logged
