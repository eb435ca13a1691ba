"""c2c_core: the vocabulary c2c speaks (image references, digests, builds, time), its OCI registry client and the pipeline tool, without Dagster."""
