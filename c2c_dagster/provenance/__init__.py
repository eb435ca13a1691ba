"""Signed build provenance: finding cosign attestations in the registry and verifying them (DSSE, in-toto, SLSA v1)."""
