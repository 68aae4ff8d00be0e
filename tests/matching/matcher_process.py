"""A second serving process for freshness tests: reads a text per line on stdin, prints the match as JSON."""

import json
import sys

import django

django.setup()

from debunk.matching.services import match_text  # noqa: E402

print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    result = match_text(text=json.loads(line))
    print(json.dumps({"matched": result["matched"], "version": result["index_version"]}), flush=True)
