"""The real cosign (built from the Go module proxy by ``scripts/services/cosign.sh``), keyed mode,
against a plain-http registry on loopback: what the tests and the demo sign provenance with.

Keyed signing only, no transparency log (``--tlog-upload=false`` / ``--insecure-ignore-tlog=true``):
the machine is offline, so neither Rekor nor Fulcio (keyless) can be reached.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from c2c_devstack.services import REPO_ROOT

INSTALL_SCRIPT = REPO_ROOT / "scripts" / "services" / "cosign.sh"
#: cosign talks TLS unless told the registry is plain http on loopback.
INSECURE = ("--allow-insecure-registry", "--allow-http-registry")


def binary() -> Path:
    done = subprocess.run(["bash", str(INSTALL_SCRIPT)], check=True, stdout=subprocess.PIPE, text=True)
    return Path(dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)["cosign"])


@dataclass(frozen=True)
class KeyPair:
    private: Path  # cosign.key: encrypted with the (empty) password COSIGN_PASSWORD gives
    public: Path  # cosign.pub: the PEM a trust policy lists


@dataclass
class Cosign:
    path: Path
    home: Path  # cosign's own cache ($HOME/.sigstore): kept out of the user's

    @classmethod
    def install(cls, home: Path) -> Cosign:
        home.mkdir(parents=True, exist_ok=True)
        return cls(binary(), home)

    def run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.home), "COSIGN_PASSWORD": "",
               # No TUF root to fetch on a closed network, and no update check.
               "TUF_ROOT": str(self.home / "tuf"), "SIGSTORE_NO_CACHE": "1"}
        done = subprocess.run([str(self.path), *args], capture_output=True, text=True, timeout=timeout, env=env)
        if check and done.returncode != 0:
            raise RuntimeError(f"cosign {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done

    def generate_key_pair(self, directory: Path, name: str = "cosign") -> KeyPair:
        directory.mkdir(parents=True, exist_ok=True)
        prefix = directory / name
        self.run("generate-key-pair", "--output-key-prefix", str(prefix))
        return KeyPair(prefix.with_suffix(".key"), prefix.with_suffix(".pub"))

    def attest(self, key: KeyPair, reference: str, predicate: Path, *, predicate_type: str = "slsaprovenance1") -> None:
        """``cosign attest``: cosign wraps the predicate in a statement whose subject is ``reference``'s digest."""
        self.run("attest", "--yes", "--key", str(key.private), "--type", predicate_type, "--predicate",
                 str(predicate), "--tlog-upload=false", *INSECURE, reference)

    def sign_statement(self, key: KeyPair, statement: Path, envelope: Path) -> Path:
        """``cosign attest-blob --statement``: a whole statement (every subject kept) signed as a DSSE envelope."""
        self.run("attest-blob", "--yes", "--key", str(key.private), "--statement", str(statement),
                 "--tlog-upload=false", "--output-signature", str(envelope))
        return envelope

    def attach(self, envelope: Path, reference: str) -> None:
        """``cosign attach attestation``: the signed envelope attached to ``reference``'s digest."""
        self.run("attach", "attestation", "--attestation", str(envelope), *INSECURE, reference)

    def verify_attestation(self, key: KeyPair, reference: str, *,
                           predicate_type: str = "slsaprovenance1") -> subprocess.CompletedProcess[str]:
        """``cosign verify-attestation --key``, no transparency log; the result, not raised."""
        return self.run("verify-attestation", "--key", str(key.public), "--type", predicate_type,
                        "--insecure-ignore-tlog=true", *INSECURE, reference, check=False)
