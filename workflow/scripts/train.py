import os
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

from ferbench.device import gpu_slot
from ferbench.logs import end_job, tee_output
from ferbench.train import TrainJob, train

# Test hook, never set by the workflow: folds named here ("model/dataset/iteration", comma-separated)
# fail at start. SLURM jobs inherit it (the profile submits with --export=ALL).
FAULT_ENV = "FERBENCH_FAIL_FOLDS"

with tee_output(snakemake.log[0]):
    w, p = snakemake.wildcards, snakemake.params
    fold = f"{w.model}/{w.dataset}/{w.iteration}"
    if fold in os.environ.get(FAULT_ENV, "").split(","):
        raise RuntimeError(f"fault injected for {fold} ({FAULT_ENV})")
    # {part: WeightFile} at the paths Snakemake gives the inputs; checked and loaded by the model package
    pretrained = {part: replace(f, file=Path(snakemake.input[f"pretrained_{part}"]))
                  for part, f in p.pretrained.items()}
    job = TrainJob(
        model=w.model, dataset=w.dataset, iteration=int(w.iteration),
        labels=Path(snakemake.input.labels), split=Path(snakemake.input.split), cache=Path(snakemake.input.cache),
        out_dir=Path(snakemake.output.metrics).parent, resume_path=Path(p.resume),
        recipe=p.recipe, model_kwargs=p.model_kwargs, objective_kwargs=p.objective_kwargs,
        pretrained=pretrained, device=p.device, threads=snakemake.threads, amp=p.amp, input_size=p.input_size,
        # from the config, not a param: it changes no result, so changing it must not retrain finished folds
        resume_every_s=snakemake.config["train"]["resume_every_s"],
    )
    # before anything initialises CUDA: a GPU of its own when several are visible (one workstation)
    with gpu_slot() if p.device != "cpu" else nullcontext():
        metrics = train(job)
    print(f"test accuracy {metrics['test_accuracy']:.4f}, balanced {metrics['test_balanced_accuracy']:.4f}")

end_job()  # outputs are written; skip the ~1 s teardown of torch at exit
