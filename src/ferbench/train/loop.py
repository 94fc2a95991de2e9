"""One training job: a (model, dataset, iteration) fold, from cached images to metrics.

* A fresh model, objective and optimizer per job; the seed comes from (dataset, iteration), and every
  epoch re-seeds from (seed, epoch), so a resumed run draws the same batches and augmentations.
* Selection on validation accuracy only (no thresholds, never the test set); early stopping with
  patience on validation accuracy.
* Resume state is saved after every completed epoch to a path outside the declared outputs (Snakemake
  deletes those when a job fails). SIGTERM/SIGUSR1 (sent by SLURM before a kill or at preemption) stop
  the job cleanly; the rerun continues from the last completed epoch.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import signal
import time
import zlib
from collections.abc import Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch import nn

from .. import schemas
from ..io import write_json, write_text, write_with
from ..models import EpochContext, create_model
from .augment import BatchAugment
from .cache import open_cache, read_batch
from .metrics import classification_metrics
from .optim import build_optimizer, build_scheduler
from .sam import SAM

CLASSES_KEY = b"ferbench.classes"


class Preempted(SystemExit):
    """Raised from the signal handler; the exit code tells SLURM/Snakemake the job did not finish."""


class InjectedFault(RuntimeError):
    pass


def job_seed(dataset: str, iteration: int) -> int:
    return zlib.crc32(f"{dataset}/{iteration}".encode()) & 0x7FFFFFFF


@dataclass
class TrainJob:
    model: str
    dataset: str
    iteration: int
    labels: Path
    split: Path
    cache: Path
    out_dir: Path
    resume_path: Path
    recipe: Mapping[str, Any]
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)
    objective_kwargs: Mapping[str, Any] = field(default_factory=dict)
    pretrained: Path | None = None
    device: str = "auto"
    threads: int = 1
    amp: bool = True
    input_size: int | None = None  # overrides the model's declared input side (e.g. 112 for a quick demo)
    fail: bool = False  # fault injection for testing reruns of one fold


def read_classes(labels_path: Path) -> list[str]:
    meta = pq.read_schema(labels_path).metadata or {}
    if CLASSES_KEY not in meta:
        raise ValueError(f"{labels_path}: no class list in the schema metadata; rebuild the label table")
    return json.loads(meta[CLASSES_KEY])


def _parts(labels_path: Path, split_path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    labels = pq.read_table(labels_path, columns=["image_id", "label"]).to_pandas()
    split = pq.read_table(split_path).to_pandas()
    if len(split) != len(labels) or not (split["image_id"].to_numpy() == labels["image_id"].to_numpy()).all():
        raise ValueError(f"{split_path} does not list the rows of {labels_path} in order; rebuild the split")
    return labels["image_id"].to_numpy(), labels["label"].to_numpy().astype(np.int64), split["part"].astype(str).to_numpy()


class _Signals:
    """Turn SIGTERM/SIGUSR1 into a clean ``Preempted`` exit while the job runs."""

    def __init__(self, resume_path: Path):
        self.resume_path = resume_path

    def __enter__(self):
        self.old = {s: signal.signal(s, self._handle) for s in (signal.SIGTERM, signal.SIGUSR1)}
        return self

    def _handle(self, signum, frame):
        raise Preempted(
            f"received {signal.Signals(signum).name}: stopping; the rerun resumes from the last completed "
            f"epoch saved in {self.resume_path}"
        )

    def __exit__(self, *exc):
        for s, h in self.old.items():
            signal.signal(s, h)
        return False


class Trainer:
    def __init__(self, job: TrainJob):
        self.job = job
        r = dict(job.recipe)
        self.recipe = r
        torch.set_num_threads(max(1, job.threads))
        self.device = torch.device("cuda" if job.device == "auto" and torch.cuda.is_available() else
                                   ("cpu" if job.device == "auto" else job.device))
        self.seed = job_seed(job.dataset, job.iteration)
        torch.manual_seed(self.seed)
        np.random.seed(self.seed % 2**32)

        self.classes = read_classes(job.labels)
        self.ids, self.y, parts = _parts(job.labels, job.split)
        self.idx = {p: np.flatnonzero(parts == p) for p in ("train", "val", "test")}
        for p, ix in self.idx.items():
            if len(ix) == 0:
                raise ValueError(f"{job.split}: the {p} part is empty")
        self.images = open_cache(job.cache)
        if len(self.images) != len(self.y):
            raise ValueError(f"{job.cache} has {len(self.images)} images but {job.labels} has {len(self.y)} rows")

        n_cls = len(self.classes)
        self.model = create_model(job.model, n_cls, pretrained=job.pretrained, **job.model_kwargs)
        # batches arrive channels-last (see augment.py); convolutions run fastest with weights alike
        self.model = self.model.to(self.device, memory_format=torch.channels_last)
        counts = np.bincount(self.y[self.idx["train"]], minlength=n_cls).tolist()
        self.objective = self.model.build_objective(counts, **job.objective_kwargs).to(self.device)
        self.trainable = nn.ModuleList([self.model, self.objective])
        self.optimizer = build_optimizer((p for p in self.trainable.parameters() if p.requires_grad), r)
        self.scheduler = build_scheduler(self.optimizer, r)
        spec = self.model.input_spec
        if job.input_size:
            spec = dataclasses.replace(spec, size=job.input_size)
        self.input_spec = spec
        self.aug = BatchAugment(r.get("augment"), spec, self.device)
        self.autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16) if job.amp and self.device.type == "cuda" else nullcontext()
        )
        self.batch_size = int(r["batch_size"])

    # -- data ---------------------------------------------------------------------------------------
    def _batches(self, part: str, gen: torch.Generator | None) -> Iterator[tuple[np.ndarray, torch.Tensor, torch.Tensor]]:
        ix = self.idx[part]
        bs = self.batch_size if gen is not None else min(2 * self.batch_size, 512)
        if gen is not None:
            ix = ix[torch.randperm(len(ix), generator=gen).numpy()]
        for start in range(0, len(ix), bs):
            # Order inside a batch does not matter to the loss; sorted rows read the memory map sequentially
            b = np.sort(ix[start : start + bs])
            if gen is not None and len(b) < 2:  # BatchNorm cannot train on a single sample
                continue
            yield b, read_batch(self.images, b), torch.from_numpy(self.y[b]).to(self.device)

    def _train_batches(self, gen: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for _, imgs, y in self._batches("train", gen):
            yield self.aug(imgs, gen), y

    # -- steps ----------------------------------------------------------------------------------------
    def _loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, dict, torch.Tensor]:
        with self.autocast:
            out = self.model(x)
            extra = {k: self.model(v) for k, v in self.objective.views(x).items()}
            loss, parts = self.objective(out, y, extra)
        return loss, parts, out["logits"]

    def _step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, dict, torch.Tensor]:
        clip = self.recipe.get("grad_clip")
        params = [p for p in self.trainable.parameters() if p.requires_grad]
        loss, parts, logits = self._loss(x, y)
        loss.backward()
        if isinstance(self.optimizer, SAM):
            self.optimizer.first_step()
            loss2, _, _ = self._loss(x, y)
            loss2.backward()
            if clip:
                nn.utils.clip_grad_norm_(params, clip)
            self.optimizer.second_step()
        else:
            if clip:
                nn.utils.clip_grad_norm_(params, clip)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite training loss {loss.item()} ({self.job.model}/{self.job.dataset})")
        return loss.item(), {k: float(v) for k, v in parts.items()}, logits.detach()

    @torch.no_grad()
    def evaluate(self, part: str) -> dict[str, Any]:
        self.model.eval()
        ids, probs, ys = [], [], []
        for b, imgs, y in self._batches(part, None):
            with self.autocast:
                logits = self.model(self.aug.eval(imgs))["logits"]
            probs.append(torch.softmax(logits.float(), 1).cpu())
            ys.append(y.cpu())
            ids.append(b)
        p, y = torch.cat(probs), torch.cat(ys)
        loss = nn.functional.nll_loss(torch.log(p.clamp_min(1e-12)), y).item()
        pred = p.argmax(1).numpy()
        m = classification_metrics(y.numpy(), pred, len(self.classes))
        return {"loss": loss, **m, "rows": np.concatenate(ids), "true": y.numpy(), "pred": pred, "probs": p.numpy()}

    # -- epochs, resume -----------------------------------------------------------------------------
    def _state(self, epoch_done: int, best: dict, bad: int, history: list) -> dict:
        return {
            "epoch_done": epoch_done,
            "model": self.model.state_dict(),
            "objective": self.objective.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else {},
            "best": best,
            "bad_epochs": bad,
            "history": history,
            "seed": self.seed,
        }

    def _save_resume(self, state: dict) -> None:
        write_with(self.job.resume_path, lambda p: torch.save(state, p))

    def _load_resume(self) -> dict | None:
        path = self.job.resume_path
        if not path.is_file():
            return None
        state = torch.load(path, map_location=self.device, weights_only=True)
        if state.get("seed") != self.seed:
            raise ValueError(f"{path} belongs to another fold (seed {state.get('seed')} != {self.seed}); delete it")
        self.model.load_state_dict(state["model"])
        self.objective.load_state_dict(state["objective"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler:
            self.scheduler.load_state_dict(state["scheduler"])
        print(f"resuming {self.job.model}/{self.job.dataset}/{self.job.iteration} after epoch {state['epoch_done']}")
        return state

    def fit(self) -> dict:
        job, r = self.job, self.recipe
        epochs, patience = int(r["epochs"]), int(r.get("patience") or r["epochs"])
        state = self._load_resume()
        first = state["epoch_done"] if state else 0
        best = state["best"] if state else {"val_accuracy": -1.0, "epoch": -1, "weights": None}
        bad = state["bad_epochs"] if state else 0
        history: list[dict] = state["history"] if state else []

        with _Signals(job.resume_path):
            if job.fail:
                raise InjectedFault(
                    f"fault injected for {job.model}/{job.dataset}/{job.iteration} (config train.fail)"
                )
            for epoch in range(first, epochs):
                if bad >= patience:
                    break
                t0 = time.time()
                epoch_seed = self.seed * 1009 + epoch
                torch.manual_seed(epoch_seed)
                gen = torch.Generator().manual_seed(epoch_seed)
                ctx = EpochContext(epoch, epochs, self.model, self.device,
                                   lambda: self._train_batches(torch.Generator().manual_seed(epoch_seed + 7)))
                self.objective.on_epoch_start(ctx)
                self.model.train()
                self.objective.train()
                losses, correct, seen, parts_sum = [], 0, 0, {}
                for x, y in self._train_batches(gen):
                    loss, parts, logits = self._step(x, y)
                    losses.append(loss * len(y))
                    correct += int((logits.argmax(1) == y).sum())
                    seen += len(y)
                    for k, v in parts.items():
                        parts_sum[k] = parts_sum.get(k, 0.0) + v * len(y)
                self.objective.on_epoch_end(ctx)
                lr = self.optimizer.param_groups[0]["lr"]
                if self.scheduler:
                    self.scheduler.step(epoch + 1)
                val = self.evaluate("val")
                improved = val["accuracy"] > best["val_accuracy"]
                if improved:
                    best = {"val_accuracy": val["accuracy"], "epoch": epoch,
                            "weights": {k: v.detach().clone() for k, v in self.model.state_dict().items()}}
                bad = 0 if improved else bad + 1
                history.append({
                    "epoch": epoch, "lr": lr, "train_loss": sum(losses) / max(seen, 1),
                    "train_accuracy": correct / max(seen, 1), "val_loss": val["loss"],
                    "val_accuracy": val["accuracy"], "val_balanced_accuracy": val["balanced_accuracy"],
                    **{f"loss_{k}": v / max(seen, 1) for k, v in parts_sum.items()},
                    "seconds": time.time() - t0,
                })
                print(f"[{job.model}/{job.dataset}/{job.iteration}] epoch {epoch + 1}/{epochs} "
                      f"loss {history[-1]['train_loss']:.4f} val acc {val['accuracy']:.4f}"
                      f"{' *' if improved else ''}", flush=True)
                self._save_resume(self._state(epoch + 1, best, bad, history))

        self.model.load_state_dict(best["weights"])
        # Summed per epoch, so a preempted and resumed fold reports its real training time.
        return self._finish(best, history, sum(h["seconds"] for h in history))

    # -- outputs --------------------------------------------------------------------------------------
    def _finish(self, best: dict, history: list, wall: float) -> dict:
        job = self.job
        out = Path(job.out_dir)
        val, test = self.evaluate("val"), self.evaluate("test")
        write_with(out / "best.pt", lambda p: torch.save(best["weights"], p))
        self._write_predictions(out / "predictions.parquet", {"val": val, "test": test})
        write_text(out / "history.csv", _csv(history))
        metrics = {
            "model": job.model, "dataset": job.dataset, "iteration": job.iteration, "seed": self.seed,
            "classes": self.classes,
            "test_accuracy": test["accuracy"], "test_balanced_accuracy": test["balanced_accuracy"],
            "test_macro_f1": test["macro_f1"], "test_loss": test["loss"],
            "best_val_accuracy": best["val_accuracy"], "best_epoch": best["epoch"] + 1,
            "val_balanced_accuracy": val["balanced_accuracy"],
            "epochs_run": len(history),
            "n_train": len(self.idx["train"]), "n_val": len(self.idx["val"]), "n_test": len(self.idx["test"]),
            "wall_time_s": round(wall, 2), "device": str(self.device),
            "device_name": torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else "cpu",
            "pretrained": str(job.pretrained) if job.pretrained else "none (trained from scratch)",
            "input_size": self.input_spec.size, "recipe": dict(self.recipe), "torch": torch.__version__,
        }
        write_json(out / "metrics.json", metrics)
        job.resume_path.unlink(missing_ok=True)
        return metrics

    def _write_predictions(self, path: Path, results: Mapping[str, dict]) -> None:
        schema = schemas.predictions(self.classes)
        cols: dict[str, list] = {n: [] for n in schema.names}
        for part, res in results.items():
            cols["image_id"] += self.ids[res["rows"]].tolist()
            cols["part"] += [part] * len(res["rows"])
            cols["true"] += res["true"].tolist()
            cols["predicted"] += res["pred"].tolist()
            for c, name in enumerate(self.classes):
                cols[f"prob_{name}"] += res["probs"][:, c].tolist()
        write_with(path, lambda p: pq.write_table(pa.table(cols, schema=schema), p))


def _csv(rows: list[dict]) -> str:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def train(job: TrainJob) -> dict:
    return Trainer(job).fit()
