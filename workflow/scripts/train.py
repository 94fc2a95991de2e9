from dataclasses import replace
from pathlib import Path

from ferbench import __version__
from ferbench.io import write_json
from ferbench.logs import tee_output
from ferbench.train import TrainJob, train

with tee_output(snakemake.log[0]):
    w, p = snakemake.wildcards, snakemake.params
    # {part: WeightFile} at the paths Snakemake gives the inputs; checked and loaded by the model package
    pretrained = {part: replace(f, file=Path(snakemake.input[f"pretrained_{part}"]))
                  for part, f in p.pretrained.items()}
    metrics = train(
        TrainJob(
            model=w.model, dataset=w.dataset, iteration=int(w.iteration),
            labels=Path(snakemake.input.labels), split=Path(snakemake.input.split), cache=Path(snakemake.input.cache),
            out_dir=Path(snakemake.output.metrics).parent, resume_path=Path(p.resume),
            recipe=p.recipe, model_kwargs=p.model_kwargs, objective_kwargs=p.objective_kwargs,
            pretrained=pretrained, device=p.device, threads=snakemake.threads, amp=p.amp, input_size=p.input_size,
        )
    )
    write_json(snakemake.output.provenance, {"ferbench": __version__})  # replaced by ferbench.provenance
    print(f"test accuracy {metrics['test_accuracy']:.4f}, balanced {metrics['test_balanced_accuracy']:.4f}")
