"""The serving benchmark's parts (``benchmarks/serve_benchmark.py`` runs them): the model and
request bodies (``model``), wrk runs and CPU accounting (``load``), the servers measured
(``servers``, ``mlserver``) and the tables printed (``report``)."""
