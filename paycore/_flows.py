"""Stepping through a sans-I/O flow on behalf of a driver that does its I/O.

paycore writes each operation once, as a generator that yields what it needs done
(an HTTP request to send, a store or merchant call to make) and receives the
outcome. A synchronous and an asynchronous driver differ only in how they do
what is asked; the stepping (sending an answer in, throwing a failure in,
collecting the result) is this one class::

    run = FlowRun(flow)
    for asked in run:
        do(asked, run)                # calls run.reply(value), or run.fail(error)
    return run.result                 # the async driver: await do(asked, run)

A failure is thrown into the flow on the next step, outside the driver's
``except`` block: an exception the flow raises in its place is not chained to it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator
from typing import Any, Generic, TypeVar

__all__ = ["FlowRun"]

_AskT = TypeVar("_AskT")
_ResultT = TypeVar("_ResultT")


class FlowRun(Generic[_AskT, _ResultT]):
    """An iterator over what ``flow`` asks for; `reply` or `fail` answers each; `result` is what it returned."""

    __slots__ = ("_answer", "_failure", "_flow", "result")
    result: _ResultT

    def __init__(self, flow: Generator[_AskT, Any, _ResultT]) -> None:
        self._flow = flow
        self._answer: object = None
        self._failure: BaseException | None = None

    def __iter__(self) -> FlowRun[_AskT, _ResultT]:
        return self

    def __next__(self) -> _AskT:
        failure, self._failure = self._failure, None
        try:
            if failure is not None:
                return self._flow.throw(failure)
            return self._flow.send(self._answer)
        except StopIteration as done:
            self.result = done.value
        raise StopIteration

    def drive(self, perform: Callable[[_AskT, FlowRun[_AskT, _ResultT]], None]) -> _ResultT:
        """Run the flow to its end, ``perform`` doing what it asks (``perform`` replies or fails): the sync drivers.

        An exception raised between two steps (a KeyboardInterrupt from a signal) is
        thrown into the flow like any failure, so that its ``finally`` blocks still get
        their I/O done (a claim released); the flow then raises it on.
        """
        while True:
            try:
                for asked in self:
                    perform(asked, self)
            except BaseException as exc:
                if inspect.getgeneratorstate(self._flow) != inspect.GEN_SUSPENDED:
                    raise  # raised by the flow itself, which is over
                self.fail(exc)
            else:
                return self.result

    def reply(self, answer: object) -> None:
        """What was asked for succeeded: ``answer`` is sent into the flow on the next step."""
        self._answer = answer

    def fail(self, failure: BaseException) -> None:
        """What was asked for failed: ``failure`` is thrown into the flow on the next step."""
        self._answer = None
        self._failure = failure
