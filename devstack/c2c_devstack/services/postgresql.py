"""A real PostgreSQL 15 (Debian's package, ``scripts/services/postgresql.sh``) on loopback, a cluster
of its own: made with initdb in a temporary directory, on a free port, password auth over TCP.

initdb and postgres refuse to run as root, so as root they run as the ``postgres`` user the
package creates (``nobody`` if it is missing), in a directory that user owns outside pytest's
root-only temp tree. A cluster started by the package itself is never used.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from c2c_devstack.services import REPO_ROOT, ManagedProcess, free_port, wait_until

INSTALL_SCRIPT = REPO_ROOT / "scripts" / "services" / "postgresql.sh"
USER = "dagster"
DATABASE = "dagster"


@dataclass
class PostgresService:
    host: str
    port: int
    user: str
    password: str
    database: str
    datadir: Path
    process: ManagedProcess

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.database}"

    def create_database(self, name: str) -> str:
        """A new empty database on this server (one per Dagster instance keeps tests apart)."""
        import psycopg2

        connection = psycopg2.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                                      dbname=self.database)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        return name

    def stop(self) -> None:
        # SIGINT is PostgreSQL's fast shutdown; SIGTERM (smart) would wait for every client.
        if self.process.popen.poll() is None:
            try:
                os.killpg(self.process.popen.pid, signal.SIGINT)
                self.process.popen.wait(timeout=20)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                pass
        self.process.stop()
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def _install() -> Path:
    done = subprocess.run(["bash", str(INSTALL_SCRIPT)], check=True, stdout=subprocess.PIPE, text=True)
    return Path(dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)["postgresql"])


def _server_user() -> pwd.struct_passwd | None:
    """Whom to run as: None (ourselves) unless we are root, which PostgreSQL refuses."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root, and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL")


def start(workdir: Path) -> PostgresService:
    bin_dir = _install()
    account = _server_user()
    # Outside workdir: pytest's temp tree is root-only (0700), and the server user must reach it.
    base = Path(tempfile.mkdtemp(prefix="c2c-postgresql-"))
    datadir, sockets = base / "data", base / "sockets"
    sockets.mkdir()
    password = secrets.token_hex(16)
    pwfile = base / "pwfile"
    pwfile.write_text(password + "\n")
    run_as: list[str] = []
    if account is not None:
        for path in (base, sockets, pwfile):
            os.chown(path, account.pw_uid, account.pw_gid)
        run_as = ["runuser", "-u", account.pw_name, "--"]

    subprocess.run(
        [*run_as, str(bin_dir / "initdb"), "-D", str(datadir), "-U", USER, f"--pwfile={pwfile}",
         "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
         "--no-sync"],
        check=True, capture_output=True, text=True,
    )
    pwfile.unlink()
    port = free_port()
    process = ManagedProcess.spawn(
        "postgres",
        [*run_as, str(bin_dir / "postgres"), "-D", str(datadir), "-p", str(port), "-k", str(sockets),
         "-c", "listen_addresses=127.0.0.1",
         # Throw-away data: durability off makes Dagster's many small commits cheap.
         "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
         "-c", "max_connections=200"],
        log_path=workdir / "postgresql.log",
    )
    service = PostgresService(host="127.0.0.1", port=port, user=USER, password=password,
                              database="postgres", datadir=datadir, process=process)

    def accepting() -> bool:
        import psycopg2

        psycopg2.connect(host=service.host, port=port, user=USER, password=password, dbname="postgres",
                         connect_timeout=2).close()
        return True

    try:
        wait_until(accepting, what=f"PostgreSQL on port {port}", timeout=60, process=process)
        service.create_database(DATABASE)
    except BaseException:
        service.stop()
        raise
    service.database = DATABASE
    return service
