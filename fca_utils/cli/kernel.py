"""A kernel manager for papermill whose waits for kernel messages cannot miss one.

nbclient waits for a cell's ``execute_reply`` with one ``get_msg(timeout=<cell timeout>)`` on
the shell channel, a single asyncio poll of the ZeroMQ socket. When the event loop misses the
socket's wake-up (nbclient issue #312, "when cell contains ipywidget, execute cell will
sometimes block"; seen here on notebook 01's widget explorer), the reply is already waiting
but the poll only looks again when its timeout ends: the cell hangs for the whole cell
timeout (15 minutes in quick mode) and then completes. :class:`SlicedPollChannel` polls in
slices of :data:`POLL_SLICE` seconds instead; each slice ends with a non-blocking check of
the socket, so a message waits at most one slice. Written here because nbclient, papermill
and jupyter_client offer no setting for it; everything else is jupyter_client's own classes.
"""
from __future__ import annotations

import time
from queue import Empty

from jupyter_client import AsyncKernelManager
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from traitlets import DottedObjectName, Type

__all__ = ["POLL_SLICE", "SlicedPollChannel", "SlicedPollClient", "SlicedPollKernelManager"]

#: Longest single poll of a kernel socket, in seconds.
POLL_SLICE = 1.0


class SlicedPollChannel(AsyncZMQSocketChannel):
    """jupyter_client's asyncio channel, its ``get_msg`` polling in slices of :data:`POLL_SLICE`."""

    async def get_msg(self, timeout: float | None = None) -> dict:
        """The next message; ``queue.Empty`` if none arrives within ``timeout`` seconds (None: wait)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = POLL_SLICE if deadline is None else min(POLL_SLICE, max(0.0, deadline - time.monotonic()))
            if await self.socket.poll(int(wait * 1000)):
                return await self._recv()
            if deadline is not None and time.monotonic() >= deadline:
                raise Empty


class SlicedPollClient(AsyncKernelClient):
    """jupyter_client's asyncio kernel client with :class:`SlicedPollChannel` channels."""

    shell_channel_class = Type(SlicedPollChannel)
    iopub_channel_class = Type(SlicedPollChannel)
    stdin_channel_class = Type(SlicedPollChannel)
    control_channel_class = Type(SlicedPollChannel)


class SlicedPollKernelManager(AsyncKernelManager):
    """jupyter_client's asyncio kernel manager handing out :class:`SlicedPollClient` clients;
    ``papermill.execute_notebook(..., kernel_manager_class=SlicedPollKernelManager)``."""

    client_class = DottedObjectName(f"{__name__}.SlicedPollClient")
    client_factory = Type(SlicedPollClient, klass=AsyncKernelClient)
