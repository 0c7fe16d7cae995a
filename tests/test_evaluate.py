"""Inference batches: the CPU's smaller batch is a speed choice only, never a numerical one."""
import pytest
import torch

from bench.backbones import BACKBONES, build_backbone
from bench.evaluate import CPU_EVAL_BATCH, EVAL_BATCH, eval_batch, predict
from bench.group_inference import pooled_features


def test_the_batch_follows_the_device():
    assert eval_batch(torch.device("cpu")) == CPU_EVAL_BATCH < EVAL_BATCH
    assert eval_batch("cuda") == EVAL_BATCH


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_every_backbone_gives_the_same_logits_bit_for_bit_at_either_batch(name):
    """What lets the CPU evaluate in batches of 128 without moving a stored number: records
    made at 2,048 are reproduced exactly (the zoo and rerun-drift checks rely on it)."""
    torch.manual_seed(0)
    model = build_backbone(name).eval()
    images = torch.rand(CPU_EVAL_BATCH * 3 + 37, 3, 28, 28)   # a ragged last batch
    with torch.inference_mode():
        small = torch.cat([model(images[i:i + CPU_EVAL_BATCH])
                           for i in range(0, len(images), CPU_EVAL_BATCH)])
        large = torch.cat([model(images[i:i + EVAL_BATCH])
                           for i in range(0, len(images), EVAL_BATCH)])
    assert torch.equal(small, large)
    assert torch.equal(predict(model, images), large.argmax(1))
    assert torch.equal(pooled_features(model, images), pooled_features(model, images, EVAL_BATCH))


def test_predict_uses_the_device_batch_unless_told():
    sizes = []

    class Recorder(torch.nn.Module):
        def forward(self, x):
            sizes.append(len(x))
            return torch.zeros(len(x), 10)

    predict(Recorder(), torch.zeros(300, 3, 28, 28))
    assert sizes == [CPU_EVAL_BATCH, CPU_EVAL_BATCH, 300 - 2 * CPU_EVAL_BATCH]
    sizes.clear()
    predict(Recorder(), torch.zeros(300, 3, 28, 28), batch_size=1000)
    assert sizes == [300]
