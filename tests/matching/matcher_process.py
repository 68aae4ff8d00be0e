"""A second serving process for freshness tests: reads a text (or {"image": base64}) per line on stdin, prints
the match as JSON."""

import base64
import json
import sys

import django

django.setup()

from debunk.images.services import query_image  # noqa: E402
from debunk.matching.services import MatchRequest, match_many  # noqa: E402

print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    query = json.loads(line)
    if isinstance(query, dict):
        request = MatchRequest("", image=query_image(base64.b64decode(query["image"])), ocr="off")
    else:
        request = MatchRequest(query)
    [result] = match_many([request])
    stages = [m["stage"] for m in result["matches"]]
    print(json.dumps({"matched": result["matched"], "version": result["index_version"], "stages": stages}), flush=True)
