"""``bench leaderboard --no-store`` in a clean clone redraws the committed figures from the
committed records and zoo weights byte for byte (the figures carry no version metadata). A
Grad-CAM figure whose models were trained before the zoo existed cannot be redrawn: its page
must say that those weights were not kept."""
import shutil
from pathlib import Path

from bench.cli import main

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "leaderboards"


def test_every_figure_that_can_be_redrawn_is_redrawn_byte_for_byte(tmp_path, monkeypatch):
    board = tmp_path / "leaderboards"
    shutil.copytree(COMMITTED, board, ignore=shutil.ignore_patterns("figures"))
    monkeypatch.setenv("BENCH_ZOO", str(board / "models"))
    assert main(["leaderboard", "--no-store", "--records", str(board / "records"),
                 "--out", str(board)]) == 0
    drawn = {p.name: p.read_bytes() for p in (board / "figures").glob("*.png")}
    committed = {p.name: p.read_bytes() for p in (COMMITTED / "figures").glob("*.png")}
    assert drawn, "no figure was drawn"
    assert {name for name in drawn if drawn[name] != committed.get(name)} == set()
    pages = "".join(p.read_text(encoding="utf-8") for p in COMMITTED.glob("*.md"))
    assert [name for name in committed if f"figures/{name}" not in pages] == []   # no orphans
    for name in sorted(set(committed) - set(drawn)):
        assert "-gradcam-" in name, f"{name} is drawn from records alone, yet was not redrawn"
        page = (COMMITTED / (name.split("-gradcam-")[0] + ".md")).read_text(encoding="utf-8")
        assert f"figures/{name}" in page and "weights: not kept" in page, name
