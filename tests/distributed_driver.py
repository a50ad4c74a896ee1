"""One host of a distributed job whose training body is scripted, for the netns tests.

``python distributed_driver.py stuck``: join the roll call and XGBoost's collective, then
never return, as a host does whose collective call hangs (XGBoost's event loop can stop
while an operation still waits on it). ``python distributed_driver.py linger``: as the
coordinator that writes its outputs after the others have left: wait until every other
participant's process is gone, then stay in the body ``XGB_DIST_TIMEOUT`` + 5 seconds and
finish. Any other host just finishes. The job folder comes from ``SAGEMAKER_BASE_DIR``.
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
from xgb_container import rollcall
from xgb_container.distributed import Cluster
from xgb_container.formats import Schema
from xgb_container.paths import Layout


def others_gone(cluster: Cluster) -> bool:
    plan = cluster.plan
    assert plan is not None
    peers = [h for h in plan.participants if h != plan.current]
    return not any(rollcall.alive(plan.addresses[h], cluster.settings.port) for h in peers)


def main(mode: str) -> int:
    cluster = Cluster.from_layout(Layout.from_env())
    cluster.join(Schema("csv", ["f0"], ["q"]), [])
    try:
        with cluster.collective() as session:
            session.allreduce_sum(np.ones(1))  # every participant is in
            print(f"{cluster.current} inside the collective", flush=True)
            if mode == "stuck":
                threading.Event().wait()
            elif mode == "linger" and cluster.plan and cluster.plan.is_coordinator:
                while not others_gone(cluster):
                    time.sleep(0.1)
                print("the others are gone", flush=True)
                time.sleep(cluster.settings.timeout + 5)
    finally:
        cluster.close()
    print(f"{cluster.current} finished", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
