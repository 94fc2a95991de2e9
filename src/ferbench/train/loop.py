"""One training job: a (model, dataset, iteration) fold, from cached images to the fold's files.

* A fresh model, objective and optimizer per job; the seed comes from (dataset, iteration), and every
  epoch re-seeds from (seed, epoch), so a resumed run draws the same batches and augmentations.
* Selection on validation accuracy only (no thresholds, never the test set); early stopping with
  patience on validation accuracy.
* Resume and preemption: :mod:`.resume`; the files of a finished fold: :mod:`.outputs`; the cost of
  every phase goes into ``metrics.json["profile"]`` (:mod:`.profile`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import closing, nullcontext
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import provenance
from ..device import device_name, resolve_device
from ..models import EpochContext, create_model
from .augment import BatchAugment
from .data import FoldData, Prefetch
from .job import TrainJob, job_seed
from .metrics import classification_metrics
from .optim import build_optimizer, build_scheduler
from .outputs import predictions_columns, remove_stale_outputs, write_fold
from .profile import Profile
from .resume import PreemptionSignals, ResumeFile
from .sam import SAM


class Trainer:
    def __init__(self, job: TrainJob):
        self.started, t0 = provenance.now(), time.perf_counter()
        self.job = job
        self.recipe = r = dict(job.recipe)
        torch.set_num_threads(max(1, job.threads))
        self.device = resolve_device(job.device)
        self.seed = job_seed(job.dataset, job.iteration)
        torch.manual_seed(self.seed)
        np.random.seed(self.seed % 2**32)

        self.resume = ResumeFile(job.resume_path)
        stale = self.resume.remove_stale_temps() + remove_stale_outputs(job.out_dir)
        if stale:
            print(f"removed {len(stale)} temp file(s) of an attempt killed while writing: "
                  f"{', '.join(p.name for p in stale)}", flush=True)
        self.inputs = provenance.InputHashes(job.input_files())
        self.data = FoldData(job.labels, job.split, job.cache)
        self.classes = self.data.classes

        self.model = create_model(job.model, len(self.classes), pretrained=job.pretrained, **job.model_kwargs)
        self.model = self.model.to(self.device)
        self.objective = self.model.build_objective(self.data.class_counts("train"), **job.objective_kwargs)
        self.objective = self.objective.to(self.device)
        self.trainable = nn.ModuleList([self.model, self.objective])
        self.params = [p for p in self.trainable.parameters() if p.requires_grad]
        self.optimizer = build_optimizer(self.params, r)
        self.scheduler = build_scheduler(self.optimizer, r)
        spec = self.model.input_spec
        if job.input_size:
            spec = dataclasses.replace(spec, size=job.input_size)
        self.input_spec = spec
        # Batches are augmented a step ahead in a background thread, except with RandAugment: it draws
        # from torch's global generator, which the model's dropout uses too, so both must stay in one
        # thread for every run to draw the same numbers.
        self.prefetch = not (r.get("augment") or {}).get("randaugment")
        self.aug = BatchAugment(r.get("augment"), spec, self.device)
        if self.aug.channels_last:  # batches arrive channels-last; convolutions run fastest with weights alike
            self.model.to(memory_format=torch.channels_last)
        self.autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16) if job.amp and self.device.type == "cuda" else nullcontext()
        )
        self.batch_size = int(r["batch_size"])
        self.pin_memory = self.device.type == "cuda"
        self.profile = Profile(self.device)
        self.profile.add("setup", time.perf_counter() - t0)

    # -- data ---------------------------------------------------------------------------------------
    def _augmented(self, gen: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Training batches with every random op applied, before the last (normalising) one."""
        for _, imgs, y in self.data.batches("train", self.batch_size, gen, self.pin_memory):
            yield self.aug.augment(imgs, gen, inplace=True), y.to(self.device, non_blocking=True)

    def _train_batches(self, gen: torch.Generator, prefetch: bool = False) -> Iterator[tuple[torch.Tensor, ...]]:
        """Model-ready training batches; ``prefetch``: augmented a batch ahead in a background thread."""
        batches = iter(Prefetch(lambda: self._augmented(gen))) if prefetch else self._augmented(gen)
        with closing(batches):
            for x, y in batches:
                yield self.aug.normalise(x), y

    # -- steps ----------------------------------------------------------------------------------------
    def _loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, dict, torch.Tensor]:
        with self.profile.phase("forward"), self.autocast:
            out = self.model(x)
            extra = {k: self.model(v) for k, v in self.objective.views(x).items()}
            loss, parts = self.objective(out, y, extra)
        return loss, parts, out["logits"]

    def _backward(self, loss: torch.Tensor) -> None:
        with self.profile.phase("backward"):
            loss.backward()

    def _step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, dict, torch.Tensor]:
        clip = self.recipe.get("grad_clip")
        loss, parts, logits = self._loss(x, y)
        self._backward(loss)
        if isinstance(self.optimizer, SAM):
            with self.profile.phase("optimizer"):
                self.optimizer.first_step()
            loss2, _, _ = self._loss(x, y)
            self._backward(loss2)
        with self.profile.phase("optimizer"):
            if clip:
                nn.utils.clip_grad_norm_(self.params, clip)
            if isinstance(self.optimizer, SAM):
                self.optimizer.second_step()
            else:
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite training loss {loss.item()} ({self.job.fold})")
        return loss.item(), {k: float(v) for k, v in parts.items()}, logits.detach()

    def evaluate(self, part: str) -> dict[str, Any]:
        self.model.eval()
        ids, probs, ys = [], [], []
        for rows, imgs, y in self.data.batches(part, min(2 * self.batch_size, 512), pin_memory=self.pin_memory):
            x = self.aug.eval(imgs)  # outside inference mode: its output buffers are reused in training
            with torch.inference_mode(), self.autocast:
                logits = self.model(x)["logits"]
                probs.append(torch.softmax(logits.float(), 1).cpu())
            ys.append(y)
            ids.append(rows)
        p, y = torch.cat(probs), torch.cat(ys)
        loss = nn.functional.nll_loss(torch.log(p.clamp_min(1e-12)), y).item()
        pred = p.argmax(1).numpy()
        m = classification_metrics(y.numpy(), pred, len(self.classes))
        return {"loss": loss, **m, "rows": np.concatenate(ids), "true": y.numpy(), "pred": pred, "probs": p.numpy()}

    def _train_epoch(self, epoch: int, epochs: int) -> dict[str, float]:
        epoch_seed = self.seed * 1009 + epoch
        torch.manual_seed(epoch_seed)
        gen = torch.Generator().manual_seed(epoch_seed)
        ctx = EpochContext(epoch, epochs, self.model, self.device,
                           lambda: self._train_batches(torch.Generator().manual_seed(epoch_seed + 7)))
        with self.profile.phase("hooks"):
            self.objective.on_epoch_start(ctx)
        self.model.train()
        self.objective.train()
        loss_sum, correct, seen, parts_sum = 0.0, 0, 0, {}
        # closing: a step that raises (e.g. preemption) stops the prefetching thread at once
        with closing(self.profile.wrap("data", self._train_batches(gen, self.prefetch))) as batches:
            for x, y in batches:
                loss, parts, logits = self._step(x, y)
                loss_sum += loss * len(y)
                correct += int((logits.argmax(1) == y).sum())
                seen += len(y)
                for k, v in parts.items():
                    parts_sum[k] = parts_sum.get(k, 0.0) + v * len(y)
        with self.profile.phase("hooks"):
            self.objective.on_epoch_end(ctx)
        lr = self.optimizer.param_groups[0]["lr"]
        if self.scheduler:
            self.scheduler.step(epoch + 1)
        n = max(seen, 1)
        return {"epoch": epoch, "lr": lr, "train_loss": loss_sum / n, "train_accuracy": correct / n,
                "images": seen, "parts": {f"loss_{k}": v / n for k, v in parts_sum.items()}}

    # -- resume -----------------------------------------------------------------------------------------
    def _state(self, epoch_done: int, best: dict, bad: int, history: list) -> dict:
        # The best weights of the epoch just trained are the model's own: not stored twice.
        best = {**best, "weights": None} if best["epoch"] == epoch_done - 1 else best
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

    def _restore(self) -> dict | None:
        state = self.resume.load(self.seed, map_location=self.device)
        if state is None:
            return None
        try:
            self.model.load_state_dict(state["model"])
            self.objective.load_state_dict(state["objective"])
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scheduler:
                self.scheduler.load_state_dict(state["scheduler"])
        except (RuntimeError, KeyError, ValueError) as e:
            raise ValueError(f"{self.resume.path} does not fit this model or recipe ({e}); delete the file "
                             "to train the fold from its first epoch") from e
        if state["best"]["weights"] is None:
            state["best"]["weights"] = _clone(state["model"])
        print(f"resuming {self.job.fold} after epoch {state['epoch_done']}", flush=True)
        return state

    # -- the fold -------------------------------------------------------------------------------------
    def fit(self) -> dict:
        job, r = self.job, self.recipe
        epochs, patience = int(r["epochs"]), int(r.get("patience") or r["epochs"])
        state = self._restore()
        first = state["epoch_done"] if state else 0
        self._resumed_after = first if state else None
        best = state["best"] if state else {"val_accuracy": -1.0, "epoch": -1, "weights": None}
        bad = state["bad_epochs"] if state else 0
        history: list[dict] = state["history"] if state else []

        self._last_save = time.monotonic()
        with PreemptionSignals(job.resume_path):
            try:
                for epoch in range(first, epochs):
                    if bad >= patience:
                        break
                    best, bad = self._epoch(epoch, epochs, best, bad, history)
            except BaseException:
                self.resume.wait(raise_error=False)  # the last completed epoch reaches the disk
                raise
            self.resume.wait()

        t0 = time.perf_counter()
        self.model.load_state_dict(best["weights"])
        results = {"val": self.evaluate("val"), "test": self.evaluate("test")}
        self.profile.add("final_eval", time.perf_counter() - t0)
        return self._finish(best, history, results)

    def _epoch(self, epoch: int, epochs: int, best: dict, bad: int, history: list) -> tuple[dict, int]:
        t0 = time.perf_counter()
        row = self._train_epoch(epoch, epochs)
        images, parts = row.pop("images"), row.pop("parts")
        with self.profile.phase("eval"):
            val = self.evaluate("val")
        improved = val["accuracy"] > best["val_accuracy"]
        if improved:
            best = {"val_accuracy": val["accuracy"], "epoch": epoch, "weights": _clone(self.model.state_dict())}
        bad = 0 if improved else bad + 1
        seconds = time.perf_counter() - t0
        history.append({**row, "val_loss": val["loss"], "val_accuracy": val["accuracy"],
                        "val_balanced_accuracy": val["balanced_accuracy"], **parts, "seconds": seconds})
        line = (f"[{self.job.fold}] epoch {epoch + 1}/{epochs} loss {row['train_loss']:.4f} "
                f"val acc {val['accuracy']:.4f}{' *' if improved else ''}  {seconds:.1f} s, "
                f"{images / seconds:.1f} images/s")
        with self.profile.phase("checkpoint"):
            # Copying and writing the state costs about as much as evaluating a small validation set
            # (DAN: 316 MB, 0.1 s to copy and 0.4 s to write per epoch), so short epochs write it at
            # most every resume_every_s. When it is written, the line is printed once it is on disk.
            now = time.monotonic()
            if now - self._last_save >= self.job.resume_every_s:
                self._last_save = now
                self.resume.save_in_background(self._state(epoch + 1, best, bad, history),
                                               then=lambda: print(line, flush=True))
            else:
                self.resume.wait()  # the previous epoch's line first
                print(line, flush=True)
        self.profile.end_epoch(time.perf_counter() - t0)
        return best, bad

    def _finish(self, best: dict, history: list, results: dict) -> dict:
        job, val, test = self.job, results["val"], results["test"]
        t0 = time.perf_counter()
        dev_name = device_name(self.device)
        metrics = {
            "model": job.model, "dataset": job.dataset, "iteration": job.iteration, "seed": self.seed,
            "classes": self.classes,
            "test_accuracy": test["accuracy"], "test_balanced_accuracy": test["balanced_accuracy"],
            "test_macro_f1": test["macro_f1"], "test_loss": test["loss"],
            "best_val_accuracy": best["val_accuracy"], "best_epoch": best["epoch"] + 1,
            "val_balanced_accuracy": val["balanced_accuracy"],
            "epochs_run": len(history),
            "n_train": len(self.data.idx["train"]), "n_val": len(self.data.idx["val"]),
            "n_test": len(self.data.idx["test"]),
            # summed per epoch, so a preempted and resumed fold reports its real training time
            "wall_time_s": round(sum(h["seconds"] for h in history), 2), "device": str(self.device),
            "device_name": dev_name,
            "pretrained": ({part: str(w.file) for part, w in job.pretrained.items()} if job.pretrained
                           else "none (trained from scratch)"),
            "input_size": self.input_spec.size, "input_spec": dataclasses.asdict(self.input_spec),
            "recipe": dict(self.recipe), "torch": torch.__version__,
        }
        settings = {"recipe": dict(self.recipe), "model_kwargs": dict(job.model_kwargs),
                    "objective_kwargs": dict(job.objective_kwargs), "seed": self.seed,
                    "input_size": self.input_spec.size, "threads": job.threads, "amp": job.amp,
                    "resumed_after_epoch": self._resumed_after}
        prov = provenance.fold_provenance(started=self.started, ended=provenance.now(), inputs=self.inputs,
                                          settings=settings, device=str(self.device), device_name=dev_name)
        self.profile.add("provenance", time.perf_counter() - t0)
        metrics["profile"] = self.profile.summary()
        metrics = write_fold(job.out_dir, best_weights=best["weights"], history=history, metrics=metrics,
                             provenance=prov, classes=self.classes,
                             predictions=predictions_columns(self.data.ids, self.classes, results))
        self.resume.remove()
        return metrics


def _clone(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in state.items()}


def train(job: TrainJob) -> dict:
    return Trainer(job).fit()
