"""A protocol preset's records get their own pages, named and titled by the preset, rows
labelled against the preset's defaults and commands that name it."""
from __future__ import annotations

from bench.leaderboard import pages
from bench.leaderboard.catalog import MethodCatalog
from bench.leaderboard.protocol import protocol_of
from tests.test_leaderboard_literature import record


def test_a_preset_page_is_named_and_titled_by_the_preset():
    rec = record("erm", 0.01, 0, 0.9, 0.2)
    protocol = protocol_of(rec)
    assert protocol.preset == "lff-cmnist" and not protocol.is_main
    assert protocol.slug == "lff-cmnist-mnist-r0.01-mlp-3x100"
    assert protocol.title == ("lff-cmnist protocol · mnist · r = 0.01 · mlp-3x100 backbone "
                              "(docs/protocols.md)")
    assert protocol.family.slug == "lff-cmnist-mnist-mlp-3x100"


def test_rows_are_labelled_against_the_preset_and_commands_name_it():
    records = [record("erm", 0.01, 0, 0.9, 0.2), record("erm", 0.01, 1, 0.8, 0.3),
               record("erm", 0.01, 0, 0.9, 0.2, lr=0.01)]
    rendered, _ = pages.render(records, MethodCatalog.from_registry(), "bench leaderboard")
    page = rendered["lff-cmnist-mnist-r0.01-mlp-3x100.md"]
    assert "| erm " in page and "| erm (lr=0.01) " in page   # not "optimizer=adam, ..."
    assert ("bench run --method erm --seeds 2 --protocol lff-cmnist --source mnist "
            "--conflict-ratio 0.01\n") in page
    assert ("bench run --method erm --seeds 1 --protocol lff-cmnist --source mnist "
            "--conflict-ratio 0.01 --set lr=0.01\n") in page
