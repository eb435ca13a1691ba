"""c2c's development stack: the real services, and the emulators where no real one can be had.

Shared by the tests (``c2c_dagster_tests``), the demo (``scripts/demo``) and the benchmarks, so
none of them imports another's package. ``services``: starters of the real services (OpenSearch,
the Kubernetes control plane with kwok, the OCI registry with Buildah, Dagster), each installed
by its ``scripts/services/*.sh``. ``emulators``: the Jenkins *emulator* (Jenkins cannot be
installed here). ``kube_objects``: raw Kubernetes API objects for pure tests and benchmarks.
Not part of the c2c product: the code location never imports it.
"""
