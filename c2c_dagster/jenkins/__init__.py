"""Jenkins: the CI side of traceability (build metadata in the pipeline, ingestion into ci_builds)."""
