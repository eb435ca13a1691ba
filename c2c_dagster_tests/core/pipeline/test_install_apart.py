"""``c2c-build-metadata`` installs on its own, as a Jenkins agent or a Kaniko sidecar gets it: core/
into a bare virtual environment with pip (requests the only dependency, from PyPI), no Dagster,
Kubernetes client or opensearch-py there, and the installed script records a real git history."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from c2c_core.pipeline.schema import schema_errors
from c2c_dagster_tests.core.pipeline.git_history import DIGEST, History, jenkins_env, write_digest
from c2c_devstack.services import REPO_ROOT

CORE = REPO_ROOT / "core"


def test_the_pipeline_tool_installs_and_runs_without_the_code_location(history: History, tmp_path: Path) -> None:
    # A copy of core/, as a CI agent would check it out: the build writes build/ and *.egg-info
    # beside its sources, which must not land in this checkout.
    source = shutil.copytree(CORE, tmp_path / "core", ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    # What ci/jenkins/Jenkinsfile runs, with the local path in place of the package index.
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", str(source)],
        capture_output=True, text=True, timeout=600,
    )
    assert install.returncode == 0, install.stdout + install.stderr

    probe = ("import importlib.util as u, json; print(json.dumps({m: u.find_spec(m) is not None for m in "
             "('c2c_core', 'requests', 'dagster', 'kubernetes', 'opensearchpy', 'c2c_dagster', 'pandas')}))")
    # Run outside the checkout: `python -c` puts the working directory on sys.path.
    found = json.loads(subprocess.run([str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True,
                                      check=True, timeout=60, cwd=tmp_path).stdout)
    assert found == {"c2c_core": True, "requests": True, "dagster": False, "kubernetes": False,
                     "opensearchpy": False, "c2c_dagster": False, "pandas": False}

    out = tmp_path / "build-metadata.json"
    done = subprocess.run(
        [str(venv / "bin" / "c2c-build-metadata"), "--image", "narendra115c/node-js",
         "--digest-file", str(write_digest(tmp_path / "image-digest")), "--output", str(out)],
        env=jenkins_env(history, GIT_PREVIOUS_SUCCESSFUL_COMMIT=history.initial),
        cwd=history.repo.path, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    assert schema_errors(doc) == []
    assert (doc["build_id"], doc["image_digest"], doc["source_commit"]) == ("Node-JS/master-67", DIGEST, history.merge)
    assert [c["commit_id"] for c in doc["commits"]] == history.repo.rev_list(f"{history.initial}..{history.merge}")
