"""ferbench: a reproducible benchmarking workflow for facial expression recognition."""
