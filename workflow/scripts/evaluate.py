import torch

from ferbench.cross import evaluate
from ferbench.logs import end_job, tee_output
from ferbench.device import resolve_device

with tee_output(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    inp, out, w = snakemake.input, snakemake.output, snakemake.wildcards
    metrics = evaluate(
        inp.fold_metrics, inp.checkpoint, snakemake.params.model_kwargs, inp.labels, inp.cache,
        inp.split if "split" in inp.keys() else None, out.metrics, out.predictions, w.test,
        device=str(resolve_device(snakemake.params.device)),
    )
    print(f"{w.model} trained on {w.train}, iteration {w.iteration}, tested on {w.test}: accuracy "
          f"{metrics['test_accuracy']:.4f} on {metrics['n_test']} images ({metrics['matching']['mode']}: "
          f"{', '.join(metrics['classes'])})")

end_job()  # outputs are written; skip the ~1 s teardown of torch at exit
