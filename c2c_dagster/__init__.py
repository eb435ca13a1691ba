"""c2c: code-to-container traceability on Dagster."""
