"""The generated pictures of the image tests: the benchmark's, so both hash the same pictures."""

from debunk.bench.image_index import scene

__all__ = ["scene"]
