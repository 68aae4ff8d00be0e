"""A fresh serving process: imports debunk.wsgi (the start-up warm-up runs there), then times two match requests
through the API (Django's test client, no socket). Prints one JSON line."""

import json
import os
import time

started = time.perf_counter()
from debunk.wsgi import application  # noqa: E402,F401 (the import is the process start being measured)

start_seconds = time.perf_counter() - started

from django.test import Client  # noqa: E402

from debunk.matching import compiled  # noqa: E402

client = Client()
seconds, answers = [], []
for _ in range(2):
    started = time.perf_counter()
    response = client.post(
        "/api/v1/match",
        data=json.dumps({"text": os.environ["MATCH_TEXT"]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Api-Key {os.environ['MATCH_KEY']}",
    )
    seconds.append(time.perf_counter() - started)
    answers.append([response.status_code, response.json().get("matched")])
stats = [getattr(compiled, name).stats for name in ("hash_parts", "signatures", "score_pairs", "match_parts")]
print(
    json.dumps(
        {
            "start": start_seconds,
            "first": seconds[0],
            "second": seconds[1],
            "answers": answers,
            "cache_hits": sum(sum(s.cache_hits.values()) for s in stats),
            "cache_misses": sum(sum(s.cache_misses.values()) for s in stats),
        }
    ),
    flush=True,
)
