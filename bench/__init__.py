"""restock benchmarks: one command each, results in bench/results as JSON and markdown."""
