"""`partnermatch seed` fits the context model on the register it loads and saves it."""

from __future__ import annotations

from click.testing import CliRunner

from partnermatch.services.cli import main as cli


def test_seed_fits_and_saves_the_context_model_the_api_and_workers_load(tmp_path, monkeypatch,
                                                                         reference_dir):
    url = f"sqlite:///{tmp_path / 'seed.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("INDEX_DIR", str(tmp_path / "index"))
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(cli, ["seed", "--data-dir", reference_dir])
    assert result.exit_code == 0, result.output
    assert "context model: fitted and saved in" in result.output
    saved = list((tmp_path / "index").rglob("context-*.joblib"))
    assert len(saved) == 1 and saved[0].with_suffix(".sha256").is_file()
    again = runner.invoke(cli, ["seed", "--data-dir", reference_dir])  # same register: same file
    assert again.exit_code == 0
    assert list((tmp_path / "index").rglob("context-*.joblib")) == saved
