"""The model zoo's cost: parameters, MACs and a CPU training step, per registered model.

Parameters are those built (= those run in forward: dead official modules are not built) and the trainable
subset; MACs come from ``torch.utils.flop_counter`` at batch 1 and the model's own input size (FLOPs / 2, the
number papers call "FLOPs"); the train step is forward + objective (with extra views) + backward + Adam step
at batch 8 on the CPU, the median of ``--steps`` timed steps after one warm-up step, as a training job runs
it: the fused Adam of ``ferbench.train.optim``, model and batch channels-last where the job makes them so.

    python benchmarks/models.py [--models dan ddamfn] [--steps 3] [--threads 1] [--batch 8]

One thread by default: on a machine shared with other jobs, OpenMP threads spin-waiting on busy cores make
multi-threaded timings meaningless. The last line, ``seconds X.X``, is one train step of every model listed
(the sum of their medians): there is no baseline to compare with.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from ferbench.models import create_model, list_models
from ferbench.train.augment import channels_last_pays
from ferbench.train.optim import build_optimizer


def macs(model, size: int) -> float:
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(1, 3, size, size))
    return counter.get_total_flops() / 2


def train_step_seconds(model, objective, size: int, batch: int, steps: int, num_classes: int) -> float:
    model.train()
    x = torch.randn(batch, 3, size, size)
    if channels_last_pays("cpu", size):
        model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.arange(batch) % num_classes
    params = [p for p in [*model.parameters(), *objective.parameters()] if p.requires_grad]
    opt = build_optimizer(params, {"optimizer": "adam", "lr": 1e-4})
    times = []
    for i in range(steps + 1):
        t0 = time.perf_counter()
        out = model(x)
        extra = {k: model(v) for k, v in objective.views(x).items()}
        loss, _ = objective(out, y, extra)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i:  # the first step allocates and plans kernels
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="*", default=list_models())
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--classes", type=int, default=7)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {args.threads} CPU thread(s), train step at batch {args.batch}")
    header = f"{'model':<16}{'input':>6}{'params (M)':>12}{'trainable (M)':>15}{'GMACs':>8}"
    print(header + f"{'train step (s)':>16}")
    total = 0.0
    for name in args.models:
        model = create_model(name, args.classes)
        objective = model.build_objective([10] * args.classes)
        size = model.input_spec.size
        n = sum(q.numel() for q in model.parameters()) / 1e6
        n_train = sum(q.numel() for q in model.parameters() if q.requires_grad) / 1e6
        g = macs(model, size) / 1e9
        step = train_step_seconds(model, objective, size, args.batch, args.steps, args.classes)
        print(f"{name:<16}{size:>6}{n:>12.2f}{n_train:>15.2f}{g:>8.2f}{step:>16.2f}", flush=True)
        total += step
    print(f"seconds {total:.1f}")


if __name__ == "__main__":
    main()
