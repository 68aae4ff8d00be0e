"""First-poster tracing as pure functions over simple post records (no database): the propagation forest,
its origins, amplifiers and growth, the evaluation scenarios, and the SVG drawings.

debunk.services.tracing feeds them posts from the archive; `eval_tracing` feeds them a dataset. Both run the
same code, so the evaluation measures what the admin shows.
"""
