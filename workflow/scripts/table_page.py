from ferbench.logs import tee_output
from ferbench.table_page import write_markdown_page

with tee_output(snakemake.log[0]):
    print(write_markdown_page(snakemake.input.table, snakemake.output.page))
