"""Image matching (issue 12, in progress): safe decoding, PDQ hashes and the image hash index, pure modules that
import no Django; storage, freshness, OCR and the API come next."""
