"""One module per measurement of issue 6; each has ``run(run: Run) -> dict``."""
