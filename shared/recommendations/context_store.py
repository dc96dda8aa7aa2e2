"""The fitted context model, saved once per machine and register, loaded by the API and workers.

``partnermatch seed`` fits the pipelines on the register it has just loaded and saves them; every
API and worker process then loads that file instead of fitting its own. The file is named by a key
of everything the fit depends on (the model version, the weights, the councils' places and the
scikit-learn version), so a refreshed register or a new model is fitted and saved anew, never
served stale. Beside it, a SHA-256 checksum: a file that is torn, truncated or otherwise not what
was written is not loaded (the process fits its own, and says so in the log).

Only files this service wrote are loaded (joblib unpickles them): the folder is the machine's
index folder (``INDEX_DIR``), which only the service writes.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
import tempfile
from collections.abc import Sequence
from pathlib import Path

import joblib
import sklearn
from sqlalchemy import select
from sqlalchemy.orm import Session

from partnermatch.shared.db.models import Council
from partnermatch.shared.matching.context import (
    AREA_WEIGHTS,
    DEFAULT_WEIGHTS,
    SCALE_NEIGHBOURS,
    SIMILARITY_POWER,
    ContextModel,
)
from partnermatch.shared.matching.index import MODEL_VERSION
from partnermatch.shared.reference.records import Place

log = logging.getLogger(__name__)
_UNREADABLE = (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError,
               pickle.UnpicklingError)


def model_key(places: Sequence[Place]) -> str:
    """Return the key of a fit: what the fitted pipelines depend on, hashed."""
    text = repr((MODEL_VERSION, sklearn.__version__, sorted(DEFAULT_WEIGHTS.items()),
                 sorted((area, sorted(w.items())) for area, w in AREA_WEIGHTS.items()),
                 SCALE_NEIGHBOURS, SIMILARITY_POWER, sorted(places, key=lambda p: p.gss_code)))
    return hashlib.sha256(text.encode()).hexdigest()


def model_path(folder: Path, places: Sequence[Place]) -> Path:
    """Return where the model fitted on these places is saved."""
    return folder / f"context-{model_key(places)[:24]}.joblib"


def load_or_fit(places: Sequence[Place], folder: Path | None) -> ContextModel:
    """Return the saved model for these places if it is there and sound, else fit and save it."""
    if folder is None:
        return ContextModel.fit(places)
    path = model_path(folder, places)
    model = load(path, model_key(places))
    if model is None:
        model = ContextModel.fit(places)
        save(model, path, model_key(places))
    return model


def load(path: Path, key: str) -> ContextModel | None:
    """Return the model saved at path if its checksum and key agree, else None."""
    checksum = path.with_suffix(".sha256")
    if not path.is_file() or not checksum.is_file():
        return None
    try:
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != checksum.read_text().strip():
            log.warning("context model %s does not match its checksum: fitting afresh", path)
            return None
        saved = joblib.load(io.BytesIO(data))
        if saved["key"] != key or saved["model_version"] != MODEL_VERSION:
            return None
        return saved["model"]
    except _UNREADABLE as error:
        log.warning("context model %s unreadable (%s): fitting afresh", path,
                    type(error).__name__)
        return None


def save(model: ContextModel, path: Path, key: str) -> bool:
    """Save a fitted model and its checksum, each renamed into place; False if it cannot."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(path, model, key)
    except OSError as error:
        log.warning("context model not saved to %s (%s)", path, error)
        return False
    return True


def _write(path: Path, model: ContextModel, key: str) -> None:
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=".context-")
    try:
        with os.fdopen(fd, "wb") as handle:
            joblib.dump({"key": key, "model_version": MODEL_VERSION, "model": model}, handle)
        digest = hashlib.sha256(Path(partial).read_bytes()).hexdigest()
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    checksum = path.with_suffix(".sha256")
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=".context-")
    with os.fdopen(fd, "w") as handle:
        handle.write(digest + "\n")
    os.replace(partial, checksum)


def context_folder(index_dir: str, database_url: str) -> Path:
    """Return the machine's folder for the context models of one database."""
    from partnermatch.shared.matching.snapshot import store_folder

    root = Path(index_dir or Path(tempfile.gettempdir()) / "partnermatch-index")
    return store_folder(root, database_url) / "context"


def fit_context(session: Session, index_dir: str, database_url: str) -> Path:
    """Fit the context model on the register in the database and save it (``seed``)."""
    from partnermatch.shared.reference.register import place_of

    places = [place_of(c) for c in session.scalars(select(Council))]
    folder = context_folder(index_dir, database_url)
    load_or_fit(places, folder)
    return folder
