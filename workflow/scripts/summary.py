from ferbench.aggregate import write_summary
from ferbench.logs import tee_output

with tee_output(snakemake.log[0]):
    summ = write_summary(snakemake.input.metrics, snakemake.output.summary)
    print(summ.to_string(index=False))
