"""Training: cached images -> batched augmentation -> one loop for every model."""

from .loop import InjectedFault, Preempted, TrainJob, job_seed, read_classes, train

__all__ = ["InjectedFault", "Preempted", "TrainJob", "job_seed", "read_classes", "train"]
