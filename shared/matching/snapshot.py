"""A machine's shared copy of the matching index: built by one worker process, opened by all.

The store is a folder per database on the machine's local disk:

- ``lock``: an advisory lock (``flock``), held by the one process that builds or swaps a snapshot,
  released by the kernel if that process dies;
- ``current``: a symbolic link to the newest generation, replaced atomically (``rename``);
- ``gen-*``: one folder per generation, written under a temporary name and renamed when complete,
  holding ``MatchIndex.save``'s files, the ids and versions of the profiles read, and
  ``snapshot.json`` (what it was built from, and when).

Opening a generation maps its arrays copy-on-write, so the pages are shared by every process of the
machine and each process keeps private only what it changes afterwards. A generation is stale when
it was built by another model version or from other councils, or is older than ``max_age``; then
it is built again. Nothing here is needed for correctness: any failure means a private index.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from partnermatch.shared.matching.index import MODEL_VERSION
from partnermatch.shared.reference.records import Place

SHARE_MIN = 50_000  # fewer profiles than this: each process builds its own index (a few seconds)
MAX_AGE = 6 * 3600.0  # seconds before a snapshot is built again from the database
SPARE_SHARE = 0.1  # room left in the shared arrays for profiles added after the snapshot


@dataclass(frozen=True)
class Snapshot:
    """One generation of the shared index."""

    folder: Path
    synced_at: datetime  # the database time the snapshot is up to date with
    written_at: float  # seconds since the epoch
    profiles: int
    spare: int


def fingerprint(places: Sequence[Place]) -> str:
    """Return what a snapshot depends on besides the profiles: the model and the councils."""
    text = repr((MODEL_VERSION, sorted(places, key=lambda p: p.gss_code)))
    return hashlib.sha256(text.encode()).hexdigest()


def store_folder(root: Path, database_url: str) -> Path:
    """Return the store of one database under a machine-wide root folder."""
    return root / hashlib.sha256(database_url.encode()).hexdigest()[:16]


class SnapshotStore:
    """Where the processes of a machine share the index of one database."""

    def __init__(self, folder: Path, min_profiles: int = SHARE_MIN, max_age: float = MAX_AGE,
                 spare_share: float = SPARE_SHARE) -> None:
        self.folder = Path(folder)
        self.min_profiles = min_profiles
        self.max_age = max_age
        self.spare_share = spare_share

    @contextmanager
    def locked(self, wait: bool = True) -> Iterator[bool]:
        """Hold the store's lock (yield True), or yield False if ``wait`` is False and it is held.

        Raises OSError when the folder cannot be used (not ours, not writable).
        """
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.folder.stat().st_uid != os.geteuid():
            raise PermissionError(f"{self.folder} belongs to another user")
        with open(self.folder / "lock", "a+b") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def current(self, fingerprint: str) -> Snapshot | None:
        """Return the newest snapshot if it fits this model and these councils and is fresh."""
        try:
            folder = (self.folder / "current").resolve(strict=True)
            meta = json.loads((folder / "snapshot.json").read_text())
            snapshot = Snapshot(folder, datetime.fromisoformat(meta["synced_at"]),
                                float(meta["written_at"]), int(meta["profiles"]),
                                int(meta["spare"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if meta.get("fingerprint") != fingerprint or self.expired(snapshot, snapshot.profiles):
            return None
        return snapshot

    def expired(self, snapshot: Snapshot, profiles: int) -> bool:
        """Say whether a snapshot is too old, or its spare rows are used up by new profiles."""
        too_old = time.time() - snapshot.written_at > self.max_age
        return too_old or profiles - snapshot.profiles > snapshot.spare

    def spare(self, profiles: int) -> int:
        return int(profiles * self.spare_share) + 1024

    def publish(self, write: Callable[[Path, int], None], fingerprint: str, synced_at: datetime,
                profiles: int) -> Snapshot:
        """Write a new generation with ``write(folder, spare)`` and make it the current one.

        The caller holds the lock. Older generations are deleted: processes that opened them
        keep their mappings (the files live on until unmapped), and none is opening one now.
        """
        name = f"gen-{time.time_ns()}-{os.getpid()}"
        building = self.folder / f".{name}"
        building.mkdir(mode=0o700)
        try:
            spare = self.spare(profiles)
            write(building, spare)
            written_at = time.time()
            (building / "snapshot.json").write_text(json.dumps({
                "fingerprint": fingerprint, "synced_at": synced_at.isoformat(),
                "written_at": written_at, "profiles": profiles, "spare": spare}))
            os.rename(building, self.folder / name)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        link = self.folder / f".current-{os.getpid()}"
        link.unlink(missing_ok=True)
        link.symlink_to(name)
        os.replace(link, self.folder / "current")
        for old in self.folder.glob("*gen-*"):
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)
        return Snapshot(self.folder / name, synced_at, written_at, profiles, spare)
