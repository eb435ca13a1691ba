"""Traceability: builds joined to what runs (commit -> build -> image -> deployment -> pod)."""
