from ferbench.aggregate import write_best_card
from ferbench.logs import tee_output

with tee_output(snakemake.log[0]):
    p = snakemake.params
    card = write_best_card(snakemake.input.metrics, p.results, snakemake.output.card, p.extra)
    print(f"{card['model']}/{card['dataset']}: iteration {card['iteration']} (val accuracy {card['val_accuracy']:.4f})")
