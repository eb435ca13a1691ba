"""``c2c-build-metadata``, the pipeline step that writes build-metadata.json, and that document's schema (the contract ``ci_builds`` reads back)."""
