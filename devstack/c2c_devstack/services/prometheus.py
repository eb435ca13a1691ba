"""A real Prometheus (Debian's ``prometheus`` package) on loopback, and its ``promtool``.

``scripts/services/prometheus.sh`` installs both. ``start(workdir)`` runs Prometheus with an
empty configuration and the lifecycle API on; a test then ``configure``s the scrape jobs and rule
files it needs (a reload, no restart), so one Prometheus serves the whole test session. Debian
builds Prometheus without Kubernetes service discovery: scrape jobs here use static or HTTP
service discovery.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from c2c_devstack.services import REPO_ROOT, ManagedProcess, free_port, wait_until

VERSION = "2.42.0"
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "services" / "prometheus.sh"
START_TIMEOUT = 60


def ensure_installed() -> None:
    """Run the install script: a no-op (a few ms) when the wanted version is installed."""
    done = subprocess.run(["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{INSTALL_SCRIPT} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``promtool`` and return its result (the caller asserts on the exit code and output)."""
    ensure_installed()
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=300, cwd=cwd)


class PrometheusQueryError(RuntimeError):
    """The HTTP API answered with an error: the message carries the query and Prometheus' reason."""


@dataclass
class PrometheusService:
    """A running Prometheus; ``url`` is its HTTP API (``/api/v1/...``)."""

    url: str
    workdir: Path
    process: ManagedProcess
    config_path: Path

    def configure(
        self,
        scrape_configs: Sequence[Mapping[str, Any]] = (),
        *,
        rule_files: Iterable[Path] = (),
        scrape_interval: str = "1s",
        evaluation_interval: str = "1s",
    ) -> None:
        """Replace the configuration and reload it (``POST /-/reload`` returns once applied)."""
        config = {
            "global": {"scrape_interval": scrape_interval, "scrape_timeout": scrape_interval,
                       "evaluation_interval": evaluation_interval},
            "rule_files": [str(Path(p).resolve()) for p in rule_files],
            "scrape_configs": [dict(job) for job in scrape_configs],
        }
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        response = requests.post(f"{self.url}/-/reload", timeout=30)
        if response.status_code != 200:
            raise RuntimeError(f"Prometheus refused the configuration ({response.status_code}): {response.text}\n"
                               f"{self.config_path.read_text()}")

    def api(self, path: str, **params: Any) -> Any:
        """``GET /api/v1/<path>``; the ``data`` of a successful answer."""
        response = requests.get(f"{self.url}/api/v1/{path}", params=params, timeout=30)
        body = response.json()
        if body.get("status") != "success":
            raise PrometheusQueryError(f"/api/v1/{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str, *, time: float | None = None) -> list[dict[str, Any]]:
        """An instant query's result list (vector samples, or one scalar as ``[{"value": ...}]``)."""
        params: dict[str, Any] = {"query": expr}
        if time is not None:
            params["time"] = time
        data = self.api("query", **params)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    def query_range(self, expr: str, *, start: float, end: float, step: float) -> list[dict[str, Any]]:
        return self.api("query_range", query=expr, start=start, end=end, step=step)["result"]

    def active_targets(self) -> list[dict[str, Any]]:
        return self.api("targets", state="active")["activeTargets"]

    def stop(self) -> None:
        self.process.stop()


def start(workdir: Path) -> PrometheusService:
    """Start Prometheus with its data, configuration and log under ``workdir``."""
    ensure_installed()
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump({"global": {"scrape_interval": "1s"}, "scrape_configs": []}))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = ManagedProcess.spawn(
        "prometheus",
        [
            "prometheus",
            f"--config.file={config_path}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            # /-/reload: tests change scrape jobs and rules without a restart.
            "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=1d",
            "--log.level=warn",
        ],
        log_path=workdir / "prometheus.log",
        cwd=workdir,
    )
    try:
        wait_until(lambda: requests.get(f"{url}/-/ready", timeout=2).status_code == 200,
                   what=f"Prometheus at {url}", timeout=START_TIMEOUT, process=process)
    except BaseException:
        process.stop()
        raise
    return PrometheusService(url=url, workdir=workdir, process=process, config_path=config_path)
