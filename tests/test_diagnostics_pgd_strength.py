"""The attack-strength check: rows, ratios and the ranking verdict, by hand."""
import torch

from bench.backbones import build_backbone
from bench.diagnostics.pgd import PGDSettings
from bench.studies.pgd_strength import (Measured, attacks, measure, ranking_holds,
                                            sampled_images, summary_rows)


def test_the_default_attack_comes_first_and_the_others_are_stronger():
    chosen = attacks(PGDSettings(), steps=100, restarts=5)
    assert chosen[0].settings == PGDSettings() and chosen[0].loss == "ce"
    assert [a.settings.steps for a in chosen[1:]] == [100, 100, 100]
    assert [a.settings.restarts for a in chosen[1:]] == [1, 5, 5]
    assert chosen[-1].loss == "margin"


def _measured(default, strong, correct):
    return Measured({"d": torch.tensor(default), "s": torch.tensor(strong)},
                    torch.tensor(correct))


def test_rows_give_median_ratio_and_lowered_share_per_population():
    chosen = attacks()[:2]
    chosen = [type(chosen[0])("d", chosen[0].settings), type(chosen[1])("s", chosen[1].settings)]
    results = {"erm": {"conflicting": _measured([0.1, 0.2, 0.4], [0.08, 0.2, 0.2],
                                                [True, True, False])}}
    rows = {(r["population"], r["attack"]): r for r in summary_rows(results, chosen)}
    strong_all = rows[("all", "s")]
    assert strong_all["n"] == 3 and abs(strong_all["median_eps"] - 0.2) < 1e-6
    assert abs(strong_all["median_ratio"] - 0.8) < 1e-6          # ratios 0.8, 1.0, 0.5
    assert abs(strong_all["lowered_share"] - 2 / 3) < 1e-9
    strong_correct = rows[("correct", "s")]
    assert strong_correct["n"] == 2 and abs(strong_correct["lowered_share"] - 0.5) < 1e-9
    assert rows[("all", "d")]["median_ratio"] == 1.0


def test_ranking_verdict_notices_a_swap():
    rows = [{"split": "aligned", "population": "all", "attack": a, "model": m, "median_eps": e}
            for a, m, e in [("d", "erm", 0.05), ("d", "jtt", 0.06),
                            ("s", "erm", 0.04), ("s", "jtt", 0.05),
                            ("m", "erm", 0.05), ("m", "jtt", 0.03)]]
    verdict = {r["attack"]: r for r in ranking_holds(rows, "d")}
    assert verdict["s"]["same as default"] and not verdict["m"]["same as default"]
    assert verdict["m"]["order (lowest ε first)"] == "jtt < erm"


def test_measure_runs_every_attack_on_the_same_images(tiny_splits):
    torch.manual_seed(0)
    model = build_backbone("baseline", 10)
    images, digits = sampled_images(tiny_splits.tests["aligned"], 3, 0, torch.device("cpu"))
    small = PGDSettings(steps=2, bisection_steps=2)
    chosen = attacks(small, steps=3, restarts=2)
    measured = measure(model, images, digits, chosen)
    assert set(measured.eps) == {a.name for a in chosen}
    assert all(len(e) == 3 for e in measured.eps.values()) and len(measured.correct) == 3
