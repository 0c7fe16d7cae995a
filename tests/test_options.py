"""Command-line names say what they choose (``--images``, ``--train-split``), and the old names
(``--source``, ``--dataset``) keep working with a one-line note on stderr."""
from __future__ import annotations

import pytest

from bench.cli import build_parser


@pytest.mark.parametrize("command", [["run", "--method", "erm"], ["sweep", "--methods", "erm"]])
def test_old_and_new_names_choose_the_same(command, capsys):
    parser = build_parser()
    new = parser.parse_args([*command, "--images", "mnist-5k", "--train-split", "colored-exact"])
    assert capsys.readouterr().err == ""
    old = parser.parse_args([*command, "--source", "mnist-5k", "--dataset", "colored-exact"])
    assert (old.source, old.dataset) == (new.source, new.dataset) == ("mnist-5k",
                                                                      "colored-exact")
    assert capsys.readouterr().err.splitlines() == [
        "note: --source is now --images (the old name still works)",
        "note: --dataset is now --train-split (the old name still works)"]


@pytest.mark.parametrize("command,default", [(["run", "--method", "erm"], "auto"),
                                             (["sweep", "--methods", "erm"], None),
                                             (["eval", "--weights", "w.pt"], "mnist"),
                                             (["samples", "--out", "s.png"], "auto")])
def test_left_out_the_defaults_stand(command, default):
    assert build_parser().parse_args(command).source == default


def test_help_names_the_new_flags_only(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--help"])
    out = capsys.readouterr().out
    assert "--images" in out and "--train-split" in out
    assert "--source" not in out and "--dataset" not in out
