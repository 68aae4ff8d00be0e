"""Measure the surge detector (debunk.warning.detector) on real rumor cascades replayed as streams of match hits.

Each post of a cascade (Weibo CED `propagation.jsonl`: its `unix_time`; Twitter15/16
`propagation_twitter1516.jsonl`: root time + delay of each distinct node) is one match hit of the cascade's
rumor, counted in clock-aligned bins (10 minutes by default; the live system uses hours). The quiet background: 200
other rumors over 30 days, each a Poisson stream with a rate drawn log-uniformly between 0.02 and 2 hits per hour
under one shared daily rhythm (±50 %); each cascade's rumor also has 3 days of such a quiet past before its first
post, and that background goes on under the cascade. False alerts are counted on the background alone.

The parameters are chosen on a development half of the cascades (fixed split by crc32 of the id) and the figures
printed are those of the held-out half (see debunk.bench.warning_eval).
"""

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from debunk.bench.warning_eval import evaluate, read_cascades


class Command(BaseCommand):
    help = "Evaluate surge alerts on a propagation dataset: how early, how many cascades, false alerts per day."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True, help="propagation.jsonl or propagation_twitter1516.jsonl")
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of a summary.")
        parser.add_argument("--bin-minutes", type=float, default=10.0, help="Bin length in minutes (default 10).")

    def handle(self, *args: Any, **opts: Any) -> None:
        path = Path(opts["dataset"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file (the datasets live in ../shared/datasets/).")
        if not 0 < opts["bin_minutes"] <= 1440:
            raise CommandError("--bin-minutes must be between 0 and 1440.")
        started = time.perf_counter()
        try:
            result = evaluate(read_cascades(path), bin_minutes=opts["bin_minutes"])
        except (ValueError, OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"{path}: {exc}") from exc
        result["dataset"] = path.name
        result["seconds"] = round(time.perf_counter() - started, 1)
        if opts["json"]:
            self.stdout.write(json.dumps(result, sort_keys=True))
            return
        p = result["parameters"]
        self.stdout.write(
            f"{path.name}: {result['cascades']} held-out cascades (median size {result['median_cascade_size']:g}), "
            f"{result['bin_minutes']:g}-minute bins, {result['seconds']} s"
        )
        self.stdout.write(f"  chosen: {result['chosen_by']}")
        self.stdout.write(
            f"  parameters: alpha {p['alpha']}, floor {p['floor_per_hour']}/h, p < {p['p_max']:g}, "
            f"count >= {p['min_count']} per bin"
        )
        fraction = result["median_alert_fraction"]
        delay = result["median_alert_delay_minutes"]
        self.stdout.write(
            f"  median alert fraction {'-' if fraction is None else f'{fraction:.2%}'} (target < 10%), "
            f"alerted {result['alerted_share']:.2%} (target >= 95%), "
            f"false alerts/day {result['false_alerts_per_day']} (target <= 1), "
            f"median delay {'-' if delay is None else f'{delay:.1f}'} min"
        )
