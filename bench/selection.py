"""Model-selection rules: which epoch of a training run is the reported model.

A rule is a small pure function of one epoch's validation predictions and the labels it
declares (:class:`Evidence`), higher is better, ties go to the earlier epoch. The training loop
scores every registered rule after every epoch from one validation forward pass
(:class:`bench.judge.SelectionJudge`) and keeps each rule's best state, so one run yields
every rule's pick. Each rule declares the supervision it consumes: the supervision of a
reported number is the union of the method's and its selection rule's.

Label-free rules read validation class labels only (``val-acc``, ``last-epoch``,
``worst-class``, ``class-diff``) or, besides them, a *label-free* bias proxy's predictions
(``pseudo-group``). ``val-worst-group`` and ``val-conflicting`` read validation bias labels.
``oracle-test`` reads the headline test split: it is reported, labelled as an oracle, and never
ranked or used to choose anything (it shows how optimistic a test-selected number is).
docs/selection.md gives each rule's source.
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Callable

import torch

from bench import metrics
from bench.errors import ConfigError
from bench.registry import Registry
from bench.supervision import Supervision

# What a rule may read. "labels" and "predictions" are always there.
NEEDS = ("bias", "proxy", "test")


@dataclass(frozen=True)
class Evidence:
    """One epoch as a rule sees it: validation predictions and class labels, and only what the
    rule declared (bias values, conflicting mask and group ids; the bias proxy's predictions;
    the headline test split's predictions and labels)."""
    epoch: int                               # counted from 1
    predictions: torch.Tensor
    labels: torch.Tensor
    num_classes: int
    conflicting: torch.Tensor | None = None
    groups: torch.Tensor | None = None
    proxy: torch.Tensor | None = None
    test_predictions: torch.Tensor | None = None
    test_labels: torch.Tensor | None = None


@dataclass(frozen=True)
class SelectionRule:
    name: str
    score: Callable[[Evidence], float]
    supervision: Supervision
    needs: frozenset = frozenset()
    oracle: bool = False           # reads a test split: reported, never ranked or chosen
    source: str = ""
    summary: str = ""


SELECTION_RULES: Registry = Registry("selection rule", "bench.selection_rules", ())
_BUILTIN_ORDER: list[str] = []     # registration order: how tables list the built-in rules


def _register(name: str, supervision: Supervision, needs: tuple[str, ...] = (),
              oracle: bool = False, source: str = "", summary: str = ""):
    def decorate(fn: Callable[[Evidence], float]):
        SELECTION_RULES.add(name, SelectionRule(name, fn, supervision, frozenset(needs), oracle,
                                                source, summary))
        _BUILTIN_ORDER.append(name)
        return fn
    return decorate


def per_class_accuracy(pred: torch.Tensor, labels: torch.Tensor, num_classes: int
                       ) -> list[float]:
    """Recall of every class present in ``labels`` (absent classes are skipped)."""
    return [metrics.accuracy(pred[labels == c], labels[labels == c])
            for c in range(num_classes) if bool((labels == c).any())]


@_register("val-acc", Supervision.NONE, source="the usual rule (DomainBed's training-domain "
           "validation; SubpopBench ValMeanAcc)", summary="validation accuracy")
def val_acc(e: Evidence) -> float:
    return metrics.accuracy(e.predictions, e.labels)


@_register("last-epoch", Supervision.NONE, source="no selection (LfF's protocol)",
           summary="the last epoch")
def last_epoch(e: Evidence) -> float:
    return float(e.epoch)


@_register("worst-class", Supervision.NONE, source="SubpopBench ValWorstAccAttributeNo",
           summary="lowest per-class validation accuracy")
def worst_class(e: Evidence) -> float:
    return min(per_class_accuracy(e.predictions, e.labels, e.num_classes))


@_register("class-diff", Supervision.NONE, source="BAM (Li et al. 2023); SubpopBench "
           "ValClassDiff", summary="minus the sum of pairwise gaps between class accuracies")
def class_diff(e: Evidence) -> float:
    accs = per_class_accuracy(e.predictions, e.labels, e.num_classes)
    # BAM picks the smallest sum of gaps; negated so that every rule maximises.
    return -sum(abs(a - b) for a, b in itertools.combinations(accs, 2))


@_register("pseudo-group", Supervision.NONE, needs=("proxy",),
           source="uLA (Tsirigotis et al. 2023): balanced accuracy over (class, bias proxy) "
           "groups", summary="mean accuracy over (class x bias-proxy prediction) groups")
def pseudo_group(e: Evidence) -> float:
    groups = e.labels * e.num_classes + e.proxy
    accs = metrics.group_accuracies(e.predictions, e.labels, groups)
    return sum(accs.values()) / len(accs)


@_register("val-worst-group", Supervision.VAL_BIAS, needs=("bias",),
           source="SubpopBench ValWorstAccAttributeYes; Sagawa et al. 2020",
           summary="worst (class, bias value) group's validation accuracy")
def val_worst_group(e: Evidence) -> float:
    return metrics.worst_group_accuracy(e.predictions, e.labels, e.groups)


@_register("val-conflicting", Supervision.VAL_BIAS, needs=("bias",),
           source="this suite's rule for labelled methods since the seed",
           summary="accuracy on bias-conflicting validation images")
def val_conflicting(e: Evidence) -> float:
    return metrics.bias_conflicting_accuracy(e.predictions, e.labels, e.conflicting)


@_register("oracle-test", Supervision.VAL_BIAS, needs=("test",), oracle=True,
           source="the official code of DFA, BiasEnsemble, LC and SelecMix (best test epoch); "
           "SubpopBench OracleMeanAcc", summary="ORACLE: accuracy on the headline test split")
def oracle_test(e: Evidence) -> float:
    return metrics.accuracy(e.test_predictions, e.test_labels)


def rule(name: str) -> SelectionRule:
    return SELECTION_RULES.get(name)


def rule_names() -> list[str]:
    """Registered rules in a fixed order: the built-in ones as registered (label-free first),
    then plugins by name; oracles last."""
    def position(name: str) -> tuple:
        builtin = _BUILTIN_ORDER.index(name) if name in _BUILTIN_ORDER else len(_BUILTIN_ORDER)
        return (rule(name).oracle, builtin, name)
    return sorted(SELECTION_RULES.names(), key=position)


def default_rule(supervision: Supervision) -> str:
    """The rule a method's numbers are reported under unless ``--selection`` says otherwise
    (the suite's rule since the seed): validation accuracy without bias labels, accuracy on
    bias-conflicting validation images with them. Not worst-group accuracy: with 100 (digit,
    colour) groups the ~6,000 validation images leave ~3 per conflicting group (0-1 on
    mnist-5k), so the worst group is 0 at most epochs and the rule keeps an early epoch."""
    return "val-acc" if supervision.reads_no_labels else "val-conflicting"


def check_primary(name: str) -> SelectionRule:
    """A rule that may choose the reported model: registered, and not an oracle."""
    chosen = rule(name)
    if chosen.oracle:
        raise ConfigError(f"--selection {name}: an oracle rule is reported beside the others "
                          f"but never chooses the reported model; pick one of "
                          f"{', '.join(n for n in rule_names() if not rule(n).oracle)}")
    return chosen


SUPERVISION_STRENGTH = (Supervision.NONE, Supervision.BIAS_FORM, Supervision.VAL_BIAS,
                        Supervision.TRAIN_BIAS)


def combined_supervision(method: Supervision, selection: Supervision) -> Supervision:
    """What a reported number used: the stronger of the method's and its rule's supervision
    (bias labels on train imply them on validation; any label outranks knowing the bias's
    form)."""
    return max(method, selection, key=SUPERVISION_STRENGTH.index)


def legacy_log_name(name: str) -> str:
    """The ``selected_<rule>`` log key; the two historical rules keep their old names."""
    return {"val-acc": "val_acc", "val-conflicting": "val_conflicting_acc"}.get(
        name, name.replace("-", "_"))


class SelectionJudge:
    """Scores every applicable rule on one epoch. Built by the harness, which holds the labels
    a method may not see: the validation bias labels and the headline test split stay inside
    the judge and reach only the rules that declared them; a method's code gets scores, never
    labels. ``proxy``: the bias proxy's validation predictions (``bench.bias_proxy``)."""

    def __init__(self, labels: torch.Tensor, num_classes: int, primary: str,
                 conflicting: torch.Tensor | None = None, groups: torch.Tensor | None = None,
                 proxy: torch.Tensor | None = None, test_images: torch.Tensor | None = None,
                 test_labels: torch.Tensor | None = None):
        self.labels, self.num_classes, self.primary = labels, num_classes, primary
        self._declared = {"bias": {"conflicting": conflicting, "groups": groups},
                          "proxy": {"proxy": proxy},
                          "test": {"test_labels": test_labels}}
        self._test_images = test_images
        available = {need for need, fields in self._declared.items()
                     if all(v is not None for v in fields.values())}
        if test_images is None:
            available.discard("test")
        self.rules = tuple(n for n in rule_names() if rule(n).needs <= available)
        if primary not in self.rules:
            raise ConfigError(f"selection rule {primary!r} needs "
                              f"{', '.join(sorted(rule(primary).needs - available))}, which "
                              f"this run does not have")

    def scores(self, epoch: int, predictions: torch.Tensor, model) -> dict[str, float]:
        """Every applicable rule's score of this epoch (``epoch`` counted from 1)."""
        from bench.evaluate import predict
        base = Evidence(epoch, predictions, self.labels, self.num_classes)
        test_predictions = None
        out = {}
        for name in self.rules:
            chosen = rule(name)
            fields = {k: v for need in chosen.needs for k, v in self._declared[need].items()}
            if "test" in chosen.needs:
                if test_predictions is None:
                    test_predictions = predict(model, self._test_images)
                fields["test_predictions"] = test_predictions
            out[name] = float(chosen.score(dataclasses.replace(base, **fields)))
        return out


@dataclass
class Pick:
    """A rule's choice in one training run: the epoch (from 1), its score, and the model state
    it had then (tensors cloned; a few KB for the suite's networks)."""
    epoch: int
    score: float
    state: dict[str, torch.Tensor] | None = None


class PickTracker:
    """Each rule's best epoch so far; a state is copied only when some rule improves, once
    for all the rules that improved at that epoch."""

    def __init__(self):
        self.picks: dict[str, Pick] = {}
        self.curves: dict[str, list[float]] = {}

    def update(self, epoch: int, scores: dict[str, float], model) -> None:
        state = None
        for name, score in scores.items():
            self.curves.setdefault(name, []).append(score)
            held = self.picks.get(name)
            if held is None and score != score:     # NaN: no evidence, no pick yet
                continue
            if held is None or score > held.score:  # strict: ties keep the earlier epoch
                if state is None:
                    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                self.picks[name] = Pick(epoch, score, state)
