"""``RegistryResource``: the Dagster side of container registries (the client itself is ``c2c_core.registry``)."""
