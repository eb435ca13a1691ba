"""kustomize (built from the Go module proxy by ``scripts/services/kustomize.sh``) rendering k8s/.

kubectl is not installed here; ``kubectl apply -k`` runs this same kustomize, so what the tests
render is what a cluster admin applies.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

from c2c_devstack.services import REPO_ROOT

INSTALL_SCRIPT = REPO_ROOT / "scripts" / "services" / "kustomize.sh"
K8S = REPO_ROOT / "k8s"


def binary() -> Path:
    done = subprocess.run(["bash", str(INSTALL_SCRIPT)], check=True, stdout=subprocess.PIPE, text=True)
    return Path(dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)["kustomize"])


def _kustomize(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run([str(binary()), *args], capture_output=True, text=True, timeout=120, cwd=cwd)
    if done.returncode != 0:
        raise RuntimeError(f"kustomize {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def build(path: Path) -> list[dict]:
    """``kustomize build PATH``: the rendered objects, in kustomize's order."""
    return [doc for doc in yaml.safe_load_all(_kustomize("build", str(path))) if doc]


def build_overlay(overlay: str, *, image: str | None = None, config: dict[str, str] | None = None) -> list[dict]:
    """An overlay of k8s/overlays customised the way k8s/README.md tells a deployer to, on a copy of
    k8s/: ``kustomize edit set image`` in the overlay (``image``: repository@digest or :tag), and
    ``config`` merged into c2c-config by a kustomization of one's own on top."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "k8s"
        shutil.copytree(K8S, copy)
        directory = copy / "overlays" / overlay
        if image:
            _kustomize("edit", "set", "image", f"c2c={image}", cwd=directory)
        if config:
            mine = copy / "overlays" / f"{overlay}-local"
            mine.mkdir()
            (mine / "kustomization.yaml").write_text(yaml.safe_dump({
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [f"../{overlay}"],
                "configMapGenerator": [{"name": "c2c-config", "behavior": "merge",
                                        "literals": [f"{key}={value}" for key, value in config.items()]}],
            }))
            directory = mine
        return build(directory)
