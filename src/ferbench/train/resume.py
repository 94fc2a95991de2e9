"""Resuming a fold after preemption, a time limit or a crash.

* The state of the last completed epoch is saved (atomically) to a path outside the declared outputs,
  which Snakemake deletes when a job fails: after every epoch, or after the first epoch that ends
  ``TrainJob.resume_every_s`` after the last save. It is copied at the epoch's end and written by a
  background thread while the next epoch trains (``torch.save`` of a ResNet-18 with Adam moments writes
  ~130 MB); that epoch's log line is printed by the thread once the file is on disk, so a log never
  claims a saved epoch that is not. A job that stops waits for the write to finish.
* SIGTERM/SIGUSR1 (sent by SLURM before a kill, at the time limit or at preemption) stop the job with
  :class:`Preempted`; the next attempt continues from the last saved epoch.
* A job killed while saving leaves a temp file beside the state; the next attempt removes it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..io import remove_stale_temps, write_with

STATE_KEYS = ("epoch_done", "model", "objective", "optimizer", "scheduler", "best", "bad_epochs", "history", "seed")


class Preempted(SystemExit):
    """Raised from the signal handler; the exit code tells SLURM/Snakemake the job did not finish."""


class PreemptionSignals:
    """Turn SIGTERM/SIGUSR1 into a clean :class:`Preempted` exit while the block runs."""

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


class ResumeFile:
    """The resume state of one fold: ``save`` after an epoch, ``load`` at start, ``remove`` when done."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._writer: threading.Thread | None = None
        self._error: BaseException | None = None

    def remove_stale_temps(self) -> list[Path]:
        return remove_stale_temps(self.path)

    def save(self, state: dict[str, Any]) -> None:
        write_with(self.path, lambda p: torch.save(state, p))

    def save_in_background(self, state: dict[str, Any], then: Callable[[], None]) -> None:
        """Copy ``state`` now (training goes on changing its tensors), write it in a thread, then call
        ``then``. Waits for the previous write first; its error, if any, is raised here."""
        self.wait()
        snapshot = _copy(state)

        def write():
            try:
                self.save(snapshot)
                then()
            except BaseException as e:  # raised by the next wait()
                self._error = e

        self._writer = threading.Thread(target=write, daemon=True, name="ferbench-resume-save")
        self._writer.start()

    def wait(self, raise_error: bool = True) -> None:
        """Until the last write is on disk; re-raises its error unless told not to."""
        if self._writer is not None:
            self._writer.join()
            self._writer = None
        error, self._error = self._error, None
        if error is not None and raise_error:
            raise error

    def load(self, seed: int, map_location: torch.device | str = "cpu") -> dict[str, Any] | None:
        """The saved state, or None when there is none; a clear error naming the file when it cannot
        be read (e.g. truncated by a full disk) or belongs to another fold."""
        if not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location=map_location, weights_only=True)
        except Exception as e:
            raise ValueError(
                f"{self.path}: cannot read this resume state ({type(e).__name__}: {e}); delete the file "
                "to train the fold from its first epoch"
            ) from e
        missing = [k for k in STATE_KEYS if not isinstance(state, dict) or k not in state]
        if missing:
            raise ValueError(f"{self.path}: not a ferbench resume state (missing {missing}); delete the file "
                             "to train the fold from its first epoch")
        if state["seed"] != seed:
            raise ValueError(f"{self.path} belongs to another fold (seed {state['seed']} != {seed}); delete it")
        return state

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def _copy(obj: Any) -> Any:
    """Tensors copied to the CPU (the file is loaded with map_location anyway), containers rebuilt."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _copy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_copy(v) for v in obj)
    return obj
