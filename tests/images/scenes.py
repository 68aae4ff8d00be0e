"""Deterministic generated pictures for the image tests and the image benchmark: a smooth two-axis gradient
with filled rectangles and discs of random colours, drawn with numpy only (no font or Pillow drawing code, so the
pixels and therefore the hashes do not move with a library's rendering)."""

import numpy as np


def scene(seed: int, width: int = 640, height: int = 480, shapes: int = 12) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    start, end = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    angle = rng.uniform(0, np.pi)
    t = (np.cos(angle) * x / width + np.sin(angle) * y / height + 1.0) / 2.5
    image = (start + (end - start) * t[..., None]).astype(np.float32)
    for _ in range(shapes):
        colour = rng.integers(0, 256, 3)
        cx, cy = rng.integers(0, width), rng.integers(0, height)
        size = rng.integers(min(width, height) // 12, min(width, height) // 3)
        if rng.random() < 0.5:
            mask = (np.abs(x - cx) < size) & (np.abs(y - cy) < size * rng.uniform(0.3, 1.0))
        else:
            mask = (x - cx) ** 2 + (y - cy) ** 2 < size**2
        image[mask] = colour
    return np.clip(image, 0, 255).astype(np.uint8)
