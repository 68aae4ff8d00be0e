"""Near-duplicate matching of posts against the rumor stock: normalise, fingerprint, index, decide."""
