"""Figures on their own: the split sample grid (bench samples) is deterministic PNG."""
from bench.cli import main
from bench.leaderboard.figures import splits_grid
from bench.cli.samples_cmd import first_of_each_digit


def test_sample_grid_shows_digits_0_to_9_and_is_byte_identical(tiny_splits, tmp_path):
    split = tiny_splits.tests["conflicting"]
    picked = first_of_each_digit(split.labels, split.images)
    assert picked.shape == (10, 3, 28, 28)
    digits = split.labels.tolist()
    for d in range(10):   # column d is the first image of digit d
        assert (picked[d] == split.images[digits.index(d)]).all()
    images = {name: first_of_each_digit(s.labels, s.images).numpy()
              for name, s in tiny_splits.all().items()}
    a = splits_grid(images, tmp_path / "a.png").read_bytes()
    b = splits_grid(images, tmp_path / "b.png").read_bytes()
    assert a == b and a.startswith(b"\x89PNG") and b"Matplotlib" not in a


def test_bench_samples_writes_the_png(tmp_path):
    out = tmp_path / "img" / "splits.png"
    assert main(["samples", "--out", str(out), "--images", "mnist-5k"]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")
