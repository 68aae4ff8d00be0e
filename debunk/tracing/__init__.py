"""First-poster tracing. The pure algorithms (`forest.py`: the propagation forest from repost links or inferred
from time and text; `origins.py`: origins, amplifiers and growth) work over simple post records and import no
Django. Around them: `drawing.py` (SVG, with Django's translations), `models.py` (Trace, FirstPoster),
`services.py` (feeds them posts from the archive and records traces) and `admin.py`.

`eval_tracing` (debunk/bench) feeds the same algorithms a dataset, so the evaluation measures what the admin shows.
"""
