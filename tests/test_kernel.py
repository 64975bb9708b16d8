"""The papermill kernel manager of ``python -m fca_utils.reproduce``: waits polled in short slices."""
import asyncio
import time
from queue import Empty

import pytest

from fca_utils.cli.kernel import (
    POLL_SLICE,
    SlicedPollChannel,
    SlicedPollClient,
    SlicedPollKernelManager,
)


class FakeSocket:
    """Polls find nothing ``misses`` times (a wake-up the event loop did not see), then a message."""

    def __init__(self, misses: int):
        self.misses = misses
        self.polls: list[int] = []

    async def poll(self, timeout_ms: int) -> int:
        self.polls.append(timeout_ms)
        if len(self.polls) <= self.misses:
            await asyncio.sleep(timeout_ms / 1000 / 100)  # a hundredth of the slice, to keep the test short
            return 0
        return 1


def channel(socket: FakeSocket) -> SlicedPollChannel:
    chan = SlicedPollChannel.__new__(SlicedPollChannel)  # no ZeroMQ socket: the fake stands in
    chan.socket = socket

    async def recv():
        return {"msg_type": "execute_reply"}

    chan._recv = recv
    return chan


def test_a_message_is_found_by_the_next_slice_not_after_the_whole_timeout():
    socket = FakeSocket(misses=3)
    msg = asyncio.run(channel(socket).get_msg(timeout=900.0))
    assert msg == {"msg_type": "execute_reply"}
    assert socket.polls == [int(POLL_SLICE * 1000)] * 4  # three empty slices, then the message


def test_no_message_raises_empty_at_the_timeout():
    socket = FakeSocket(misses=10**6)
    start = time.monotonic()
    with pytest.raises(Empty):
        asyncio.run(channel(socket).get_msg(timeout=0.05))
    assert time.monotonic() - start >= 0.05
    assert all(ms <= 50 for ms in socket.polls)  # no slice reaches past the timeout


def test_without_a_timeout_it_waits_in_slices():
    socket = FakeSocket(misses=5)
    asyncio.run(channel(socket).get_msg())
    assert socket.polls == [int(POLL_SLICE * 1000)] * 6


def test_the_manager_hands_out_clients_with_sliced_channels():
    client = SlicedPollKernelManager().client()
    assert isinstance(client, SlicedPollClient)
    for name in ("shell", "iopub", "stdin", "control"):
        assert getattr(client, f"{name}_channel_class") is SlicedPollChannel
