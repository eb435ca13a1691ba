"""One module per dashboard, each with a ``spec()`` returning its ``build.Spec``."""
