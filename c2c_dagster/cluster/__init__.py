"""The Kubernetes API as every part of c2c that reads a cluster uses it (``kubernetes/``'s
snapshots, ``argocd/``'s sync sensor): the paged LIST (``pager.py``), the clients per cluster
(``resources.py``) and the run tag naming a cluster (``tags.py``)."""
