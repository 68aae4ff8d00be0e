"""Images: safe decoding, and (later) perceptual hashes, OCR and image matching (issue 12)."""
