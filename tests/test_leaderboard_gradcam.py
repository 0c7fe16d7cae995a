"""The leaderboard's Grad-CAM figure: drawn when both weight files exist, skipped cleanly when
not, and linked by a page exactly when its file exists (so records alone reproduce the pages)."""
import dataclasses

import numpy as np
import pytest
import torch

from bench.backbones import build_backbone
from bench.cli import main
from bench.datasets.colored_mnist import ColoredMNISTSpec
from bench.diagnostics.pgd import sample_positions
from bench.leaderboard import figures, gradcam_figure, pages
from bench.leaderboard.catalog import MethodCatalog
from bench.leaderboard.gradcam_figure import WeightSource, draw_figures
from bench.leaderboard.sources import record_line
from bench.record import RunRecord, RunSpec
from bench.weights import save_model, weights_path

pytestmark = pytest.mark.usefixtures("synthetic_main")

ERM = {"epochs": 10, "batch_size": 16, "lr": 0.1, "momentum": 0.0, "weight_decay": 0.0}
CATALOG = MethodCatalog({"erm": ERM, "jtt": {**ERM, "upweight": 20.0}}, frozenset())
DATA = {k: v for k, v in ColoredMNISTSpec(source="mnist-5k").to_dict().items() if k != "seed"}
COMMAND = "bench leaderboard --no-store --records records --out board"


def _record(method: str, seed: int, acc: float) -> RunRecord:
    spec = RunSpec(method, dict(CATALOG.defaults[method]), DATA)
    confusion = [[100 if i == j else 0 for j in range(10)] for i in range(10)]
    return RunRecord(spec, seed, "completed", "none", {"acc_conflicting": acc},
                     confusion=confusion, created_at="2025-01-01T00:00:00+00:00")


def _records() -> list[RunRecord]:
    # jtt's lowest seed is 1: the two models need not share a seed
    return [_record("erm", 0, 0.05), _record("erm", 1, 0.06),
            _record("jtt", 1, 0.80), _record("jtt", 2, 0.82)]


def _keep_weights(records, folder) -> None:
    for number, record in enumerate(records):
        torch.manual_seed(number)     # a different untrained model per run
        save_model(build_backbone("baseline"), "baseline", weights_path(folder, record.key))


def _pair_paths(out):
    return sorted(p.name for p in (out / "figures").glob("*-gradcam-*.png"))


def test_drawn_when_both_weight_files_exist_and_then_linked(tmp_path):
    records = _records()
    _keep_weights(records, tmp_path / "weights")
    out = tmp_path / "board"
    written, notes = draw_figures(records, CATALOG, out, WeightSource(tmp_path / "weights"))
    assert notes == [] and len(written) == 1 and written[0].read_bytes().startswith(b"\x89PNG")
    first = written[0].read_bytes()
    draw_figures(records, CATALOG, out, WeightSource(tmp_path / "weights"))
    assert written[0].read_bytes() == first                   # deterministic bytes

    linked, _ = pages.render(records, CATALOG, COMMAND, figures_in=out)
    plain, _ = pages.render(records, CATALOG, COMMAND)
    [page] = [name for name in linked if name != "README.md"]
    relative = written[0].relative_to(out).as_posix()
    assert f"]({relative})" in linked[page] and relative not in plain[page]
    assert "erm (seed 0) beside the best method, jtt (seed 1" in linked[page]
    assert linked["README.md"] == plain["README.md"]


def test_skipped_cleanly_without_weights_and_pages_unchanged(tmp_path):
    records = _records()
    _keep_weights(records[:2], tmp_path / "weights")          # jtt's weights were not kept
    out = tmp_path / "board"
    written, notes = draw_figures(records, CATALOG, out, WeightSource(tmp_path / "weights"))
    assert written == [] and _pair_paths(out) == []
    assert len(notes) == 1 and records[2].key in notes[0]
    linked, planned = pages.render(records, CATALOG, COMMAND, figures_in=out)
    assert linked == pages.render(records, CATALOG, COMMAND)[0]
    assert not any("gradcam" in fig.path for fig in planned)


def test_the_same_seeded_images_for_both_models_with_their_own_predictions(tmp_path,
                                                                          monkeypatch):
    records = _records()
    _keep_weights(records, tmp_path / "weights")
    seen = {}
    monkeypatch.setattr(figures, "gradcam_rows", lambda images, digits, panels, path:
                        seen.update(images=images, digits=digits, panels=panels) or path)
    draw_figures(records, CATALOG, tmp_path / "board", WeightSource(tmp_path / "weights"))

    from bench.data import prepare_splits
    split = prepare_splits(ColoredMNISTSpec(**{**DATA, "seed": 0})).tests["conflicting"]
    index = sample_positions(len(split), gradcam_figure.IMAGES, gradcam_figure.SAMPLE_SEED)
    assert np.array_equal(seen["images"], split.images[index].numpy())
    assert seen["digits"] == split.labels[index].tolist()
    assert [label for label, _, _ in seen["panels"]] == ["erm", "jtt"]
    for (_, maps, predicted), number in zip(seen["panels"], (0, 2)):   # erm seed 0, jtt seed 1
        torch.manual_seed(number)
        model = build_backbone("baseline").eval()
        with torch.no_grad():
            expected = model(split.images[index].float() / 255).argmax(1).tolist()
        assert predicted == expected
        assert maps.shape == (gradcam_figure.IMAGES, 28, 28)
        assert maps.min() >= 0 and maps.max() <= 1


def test_a_figure_of_another_pair_is_never_linked_and_is_replaced(tmp_path):
    records = _records()
    _keep_weights(records, tmp_path / "weights")
    out = tmp_path / "board"
    [old] = draw_figures(records, CATALOG, out, WeightSource(tmp_path / "weights"))[0]
    redone = dataclasses.replace(records[0], created_at="2025-02-01T00:00:00+00:00")
    records = [redone, *records[1:]]                          # erm seed 0 run again
    linked, _ = pages.render(records, CATALOG, COMMAND, figures_in=out)
    assert "gradcam" not in "".join(linked.values())
    [new] = draw_figures(records, CATALOG, out, WeightSource(tmp_path / "weights"))[0]
    assert new != old and _pair_paths(out) == [new.name]


def test_weights_of_another_run_of_the_same_key_are_not_drawn(tmp_path):
    """A store's own folder first, the older shared weights/ folder second; weights stamped
    with another record of the key (a rerun kept elsewhere) give a note, not a figure."""
    records = _records()
    _keep_weights(records, tmp_path / "weights")                 # legacy, unstamped
    source = WeightSource(tmp_path / "r.weights", legacy_dir=tmp_path / "weights")
    assert source.path(records[0].key) == weights_path(tmp_path / "weights", records[0].key)
    rerun = dataclasses.replace(records[0], created_at="2099-01-01T00:00:00")
    save_model(build_backbone("baseline"), "baseline",
               weights_path(tmp_path / "r.weights", rerun.key), rerun)
    assert source.path(records[0].key) == weights_path(tmp_path / "r.weights", records[0].key)
    written, notes = draw_figures(records, CATALOG, tmp_path / "board", source)
    assert written == [] and len(notes) == 1 and "belong to the run of" in notes[0]


def test_cli_no_figures_from_records_alone_reproduces_the_pages(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    records = _records()
    _keep_weights(records, tmp_path / "weights")
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "p.jsonl").write_text("".join(record_line(r) for r in records))
    common = ["leaderboard", "--no-store", "--records", "records", "--out", "board"]
    assert main([*common, "--weights", "weights"]) == 0
    drawn = {p.name: p.read_bytes() for p in (tmp_path / "board").glob("*.md")}
    assert len(_pair_paths(tmp_path / "board")) == 1
    assert any("-gradcam-" in text.decode() for text in drawn.values())
    # another machine: no weights, no drawing; the committed PNG still decides the link
    assert main([*common, "--no-figures"]) == 0
    assert {p.name: p.read_bytes() for p in (tmp_path / "board").glob("*.md")} == drawn
