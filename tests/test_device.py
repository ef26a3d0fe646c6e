"""vidconv.utils.device: the default device, and one CPU thread for tiny experiments (restored afterwards)."""

import pytest
import torch

from vidconv.utils.device import one_cpu_thread


def test_one_cpu_thread_on_cpu_and_restored_even_after_an_error():
    before = torch.get_num_threads()
    with one_cpu_thread(torch.device("cpu")):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), one_cpu_thread(torch.device("cpu")):
        raise RuntimeError("inside")
    assert torch.get_num_threads() == before


def test_one_cpu_thread_leaves_other_devices_alone_and_checks_its_argument():
    before = torch.get_num_threads()
    with one_cpu_thread(torch.device("meta")):
        assert torch.get_num_threads() == before
    with pytest.raises(TypeError, match="torch.device"):
        with one_cpu_thread("cpu"):
            pass


def test_timed_returns_the_value_and_median_seconds_counts_its_calls():
    from vidconv.utils.timing import median_seconds, timed

    value, seconds = timed(lambda: 42)
    assert value == 42 and seconds >= 0
    calls = []
    median = median_seconds(
        lambda: calls.append(1), torch.device("cpu"), repeats=3, warmup=2
    )
    assert len(calls) == 5 and median >= 0
    with pytest.raises(ValueError, match="repeats"):
        median_seconds(lambda: None, torch.device("cpu"), repeats=0)
