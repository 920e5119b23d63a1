"""Per-item work in parallel: joblib workers on this machine, or a Dask cluster.

:func:`map_tasks` runs a function over a list of argument tuples in joblib workers with a
tqdm bar; inside :func:`dask_backend` the same call runs on a Dask distributed cluster
(joblib's ``dask`` backend), so per-run work scales past one machine unchanged.
"""

from __future__ import annotations

import contextlib

from mindpain.core.errors import MindpainError

#: Seconds to wait for a Dask scheduler before giving up with a one-line error.
DASK_TIMEOUT_S = 10


def map_tasks(func, tasks, n_jobs: int, progress: bool, desc: str) -> list:
    """Return ``[func(*t) for t in tasks]``, computed by ``n_jobs`` joblib workers."""
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    gen = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(func)(*t) for t in tasks)
    return list(tqdm(gen, total=len(tasks), desc=desc, disable=not progress, unit="item"))


def dask_client(address: str):
    """Connect to a Dask scheduler within :data:`DASK_TIMEOUT_S`, or raise a one-line error."""
    import logging

    from distributed import Client

    logger = logging.getLogger("distributed")
    level = logger.level
    logger.setLevel(logging.CRITICAL)  # its own retry messages would bury the one line
    try:
        return Client(address, timeout=f"{DASK_TIMEOUT_S}s")
    except (OSError, TimeoutError, ValueError, TypeError) as err:
        why = " ".join(str(err).split())[:160] or type(err).__name__
        raise MindpainError(f"cannot reach the Dask scheduler at {address!r} within "
                            f"{DASK_TIMEOUT_S} s ({why}); check the address (e.g. "
                            "tcp://host:8786) or run without --dask-scheduler") from None
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def dask_backend(client):
    """Run the joblib calls inside on ``client``'s cluster (no-op for ``None``)."""
    if client is None:
        yield
        return
    from joblib import parallel_config

    with client, parallel_config(backend="dask"):
        yield
