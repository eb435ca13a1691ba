"""Which store to use, from c2c's settings: the one rule Dagster and the CLIs share;
and the one opened store per process that every asset, sensor and command reuses.

No Dagster import here, so a command-line tool opens the store in a fraction of a second.
"""

from __future__ import annotations

import atexit
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from c2c_dagster.settings import Settings, load_settings
from c2c_dagster.store.base import MetadataStore


def default_embedded_path(settings: Settings | None = None) -> Path:
    """``$C2C_STORE_PATH``, else beside the Dagster instance, else under the user's home."""
    settings = settings or load_settings()
    if settings.store_path:
        return Path(settings.store_path)
    if settings.dagster_home:
        return Path(settings.dagster_home) / "c2c" / "store.sqlite"
    return Path.home() / ".c2c" / "store.sqlite"


@dataclass(frozen=True)
class StoreSettings:
    """OpenSearch when ``opensearch_url`` is set, else the embedded SQLite store."""

    opensearch_url: str | None = None
    opensearch_user: str | None = None
    opensearch_password: str | None = field(default=None, repr=False)
    opensearch_verify_certs: bool = True
    opensearch_ca_certs: str | None = None
    # Replicas default to 1 as a production cluster wants; a single test node uses 0.
    opensearch_replicas: int = 1
    index_prefix: str = ""
    embedded_path: str | None = None

    @classmethod
    def from_env(cls) -> "StoreSettings":
        """The store the process's settings name."""
        return cls.from_settings(load_settings())

    @classmethod
    def from_settings(cls, settings: Settings) -> "StoreSettings":
        password = settings.opensearch_password
        return cls(
            opensearch_url=settings.opensearch_url,
            opensearch_user=settings.opensearch_user,
            opensearch_password=password.get_secret_value() if password else None,
            opensearch_verify_certs=settings.opensearch_verify_certs,
            opensearch_ca_certs=settings.opensearch_ca_certs,
            opensearch_replicas=settings.opensearch_replicas,
            index_prefix=settings.index_prefix,
            embedded_path=settings.store_path,
        )

    def open(self) -> MetadataStore:
        """A new store client; nothing is sent to the store yet.

        Indices are not created here: a reader needs none (a missing index reads as empty), and
        the first write of a process sets up the index it writes to. Most callers want
        ``shared_store``, which reuses one client per process.
        """
        store: MetadataStore
        if self.opensearch_url:
            # Imported here: opensearch-py is only needed when OpenSearch is configured.
            from c2c_dagster.store.opensearch import OpenSearchStore

            store = OpenSearchStore(
                self.opensearch_url,
                username=self.opensearch_user,
                password=self.opensearch_password,
                verify_certs=self.opensearch_verify_certs,
                ca_certs=self.opensearch_ca_certs,
                index_prefix=self.index_prefix,
                number_of_replicas=self.opensearch_replicas,
            )
        else:
            from c2c_dagster.store.embedded import EmbeddedStore

            store = EmbeddedStore(self.embedded_path or default_embedded_path())
        return store


#: The asset kinds a store can be: an asset carries the one its settings choose.
STORE_KINDS = frozenset({"opensearch", "sqlite"})


def store_kind(settings: StoreSettings | None = None) -> str:
    """The Dagster asset kind of the store ``settings`` choose, for the assets' ``kinds``: what the
    UI shows is then the store that serves. None: the defaults' (the embedded store), which an asset
    carries until ``build_definitions`` applies the process's settings (no import reads them)."""
    chosen = settings if settings is not None else StoreSettings()
    return "opensearch" if chosen.opensearch_url else "sqlite"


# One client per settings and process: a client holds a connection pool, so building one per
# asset, sensor tick or call would reconnect every time. The pid is part of the key because a
# forked child must not share its parent's sockets.
_shared: dict[tuple[int, StoreSettings], MetadataStore] = {}
_shared_lock = threading.Lock()
_closing_at_exit = False


def shared_store(settings: StoreSettings) -> MetadataStore:
    """The process's store for ``settings``, opened on first use and closed when the process exits."""
    global _closing_at_exit
    key = (os.getpid(), settings)
    with _shared_lock:
        store = _shared.get(key)
        if store is None or store.closed:
            store = _shared[key] = settings.open()
            if not _closing_at_exit:
                atexit.register(close_shared_stores)
                _closing_at_exit = True
        return store


def close_shared_stores() -> None:
    """Close this process's shared stores (at exit; tests call it to start afresh)."""
    pid = os.getpid()
    with _shared_lock:
        mine = [key for key in _shared if key[0] == pid]
        stores = [_shared.pop(key) for key in mine]
    for store in stores:
        store.close()
