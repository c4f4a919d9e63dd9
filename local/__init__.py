"""Run the pipeline on moto, in one process, with the real handlers and definitions."""
