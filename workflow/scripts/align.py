from pathlib import Path

import torch

from ferbench.align import AlignConfig, align_dataset
from ferbench.datasets import get_adapter
from ferbench.device import resolve_device
from ferbench.logs import end_job, tee_output
from ferbench.schemas import write_alignment

with tee_output(snakemake.log[0]):
    p = snakemake.params
    torch.set_num_threads(snakemake.threads)
    opts = dict(p.align)
    device = resolve_device(opts.pop("device", "auto"))
    image_format = opts.pop("image_format", "jpg")
    result = get_adapter(p.entry["format"]).read(Path(p.raw_dir), p.entry.get("options") or {})
    results = Path(p.results)
    images_subdir = Path(snakemake.output.images).relative_to(results).as_posix()
    # on the CPU: one process per thread (ferbench.align), which spreads MTCNN over the cores
    table = align_dataset(result.records, results, images_subdir, AlignConfig(**opts),
                          image_format=image_format, device=device, desc=f"align {snakemake.wildcards.base}",
                          workers=snakemake.threads)
    Path(snakemake.output.images).mkdir(parents=True, exist_ok=True)
    write_alignment(snakemake.output.table, table)

end_job()  # outputs are written; skip the ~1 s teardown of torch at exit
