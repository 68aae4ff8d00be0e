"""Image matching: safe decoding, perceptual hashes and the image hash index (pure modules, no Django)."""
