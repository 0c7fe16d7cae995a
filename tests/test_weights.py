"""Kept weights: exact round trip, safe loading, clear errors, the after-fit hook."""
from __future__ import annotations

import pytest
import torch

from bench.backbones import ConvGNNet, build_backbone
from bench.hooks import HookOptions, after_fit_hooks, weights_hooks
from bench.record import RunRecord, RunSpec
from bench.backbones import UnitMaskedNet
from bench.weights import (WeightsMissing, kept_weights_path, load_model, save_model,
                           weights_dir_for, weights_path)


def _model(seed: int = 0) -> ConvGNNet:
    torch.manual_seed(seed)
    return build_backbone("baseline").eval()


def _images(n: int = 64) -> torch.Tensor:
    return torch.rand(n, 3, 28, 28, generator=torch.Generator().manual_seed(1))


def test_round_trip_gives_identical_outputs(tmp_path):
    model, x = _model(), _images()
    path = save_model(model, "baseline", tmp_path / "w" / "0.pt")
    loaded = load_model(path)
    assert isinstance(loaded, ConvGNNet) and not loaded.training
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    assert not list(tmp_path.glob("w/.*tmp*")), "temporary file left behind"


def test_masked_model_round_trip_keeps_the_mask(tmp_path):
    mask = torch.ones(16)
    mask[[2, 5]] = 0
    model, x = UnitMaskedNet(_model(), mask).eval(), _images()
    loaded = load_model(save_model(model, "baseline", tmp_path / "m.pt"))
    assert isinstance(loaded, UnitMaskedNet)
    assert torch.equal(loaded.feature_mask, mask)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
        assert not torch.equal(loaded(x), loaded.base(x))   # the mask really acts


def test_a_boolean_keep_mask_as_ablate_texture_builds_it_round_trips(tmp_path):
    keep = torch.ones(16, dtype=torch.bool)
    keep[[0, 9]] = False
    model, x = UnitMaskedNet(_model(), keep).eval(), _images()
    loaded = load_model(save_model(model, "baseline", tmp_path / "a.pt"))
    assert torch.equal(loaded.feature_mask, keep.float())
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
        assert torch.equal(model.feature_maps(x), loaded.feature_maps(x))


def test_file_holds_only_tensors_and_strings(tmp_path):
    path = save_model(_model(), "baseline", tmp_path / "0.pt")
    blob = torch.load(path, weights_only=True)   # would raise on pickled code
    assert blob["backbone"] == "baseline" and blob["feature_mask"] is None


class Arbitrary:
    """Stands for any pickled object, which weights_only loading must refuse."""


def test_a_pickled_object_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"backbone": "baseline", "state_dict": _model().state_dict(),
                "feature_mask": None, "payload": Arbitrary()}, path)
    with pytest.raises(WeightsMissing, match="cannot read kept weights"):
        load_model(path)


def test_missing_file_says_how_to_fix(tmp_path):
    with pytest.raises(WeightsMissing, match="--no-keep-weights"):
        load_model(tmp_path / "nope.pt")


def test_paths_follow_the_store_and_key(tmp_path):
    folder = weights_dir_for(tmp_path / "results.sqlite")
    assert folder == tmp_path / "results.weights"
    assert weights_path(folder, "abcd/3") == tmp_path / "results.weights" / "abcd" / "3.pt"


def test_two_stores_in_one_folder_keep_weights_apart(tmp_path):
    """A rerun has the key of the run it repeats; in another store beside the first it must
    not overwrite the first store's file (it did when stores shared weights/)."""
    record = RunRecord(RunSpec("erm", {}, {"source": "mnist-5k"}), 0, "completed", "none")
    rerun = RunRecord(record.spec, 0, "completed", "none", created_at="2099-01-01T00:00:00")
    for store, rec, fill in (("first.sqlite", record, 0.0), ("rerun.sqlite", rerun, 1.0)):
        model = _model()
        torch.nn.init.constant_(next(model.parameters()), fill)
        for hook in weights_hooks(HookOptions(keep_weights=True,
                                              weights_dir=weights_dir_for(tmp_path / store))):
            hook(model, None, None, rec)
    first = load_model(kept_weights_path(tmp_path / "first.sqlite", record.key), record=record)
    assert float(next(first.parameters()).detach().abs().sum()) == 0.0
    with pytest.raises(WeightsMissing, match="belong to the run of .* made at 2099"):
        load_model(kept_weights_path(tmp_path / "rerun.sqlite", record.key), record=record)


def test_legacy_shared_folder_is_still_read(tmp_path):
    key = "abcd/3"
    assert kept_weights_path(tmp_path / "r.sqlite", key) == tmp_path / "r.weights" / "abcd" / "3.pt"
    save_model(_model(), "baseline", weights_path(tmp_path / "weights", key))
    assert kept_weights_path(tmp_path / "r.sqlite", key) == tmp_path / "weights" / "abcd" / "3.pt"
    record = RunRecord(RunSpec("erm", {}, {"source": "mnist-5k"}), 3, "completed", "none")
    load_model(kept_weights_path(tmp_path / "r.sqlite", key), record=record)   # unstamped: read
    save_model(_model(), "baseline", weights_path(tmp_path / "r.weights", key))
    assert kept_weights_path(tmp_path / "r.sqlite", key) == tmp_path / "r.weights" / "abcd" / "3.pt"


def test_hook_saves_under_the_record_key_unless_opted_out(tmp_path):
    record = RunRecord(RunSpec("erm", {}, {"source": "mnist-5k"}), 2, "completed", "none")
    model = _model()
    for hook in weights_hooks(HookOptions(keep_weights=True, weights_dir=tmp_path)):
        hook(model, None, None, record)
    assert weights_path(tmp_path, record.key).is_file()
    names = [getattr(h, "__name__", "") for h in after_fit_hooks(HookOptions(keep_weights=True))]
    assert names[-1] == "keep_weights", "weights are kept after the diagnostics"
    assert "keep_weights" not in [getattr(h, "__name__", "")
                                  for h in after_fit_hooks(HookOptions(keep_weights=False))]
