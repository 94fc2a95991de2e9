from ferbench.face_regions import variant_transform
from ferbench.logs import tee_output
from ferbench.train.cache import build_cache

with tee_output(snakemake.log[0]):
    p = snakemake.params
    transform = variant_transform(p.variant, p.zoom) if p.variant else None
    build_cache(snakemake.input.labels, p.results, snakemake.output.cache, p.size, transform=transform)
