"""Benchmarks and evaluations, and their management commands. An installed app only so that Django finds the
commands; serving code never imports it (tests/core/test_layout.py)."""
