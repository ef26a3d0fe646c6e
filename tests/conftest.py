"""Fixtures shared by the tests that need the chapters executed: each chapter runs once per session."""

from __future__ import annotations

import concurrent.futures
import multiprocessing

import pytest
import standalone_env


@pytest.fixture(scope="session")
def standalone(tmp_path_factory) -> dict:
    """The Colab-like environment (see ``standalone_env``)."""
    return standalone_env.make_environment(
        tmp_path_factory.mktemp("standalone")
    )


@pytest.fixture(scope="session")
def chapter_runs(
    standalone, tmp_path_factory, chapter_report
) -> dict[str, dict]:
    """Every chapter executed once, alone, one after another: {stem: result}.

    One at a time and with torch's default threads, as ``make notebooks`` saves the outputs: some
    trained results depend on the thread count (two kernels on one thread each changed a Chapter 3
    verdict), and Chapter 8's data-parallel cell aborts under OMP_NUM_THREADS=1.

    The results (see ``standalone_env.execute_chapter``) include the executed notebook, from which the
    site is built. Times go to the session report; none is asserted.
    """
    out = tmp_path_factory.mktemp("chapter_runs")
    spawn = multiprocessing.get_context(
        "spawn"
    )  # a fresh process: no fork of torch's threads
    jobs = [str(p) for p in standalone_env.CHAPTERS]
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=1, mp_context=spawn
    ) as pool:
        results = list(
            pool.map(
                standalone_env.execute_chapter,
                jobs,
                [str(out)] * len(jobs),
                [standalone] * len(jobs),
            )
        )
    for r in results:
        chapter_report[f"chapters/{r['name']}.ipynb"] = r["seconds"]
    return {r["name"]: r for r in results}
