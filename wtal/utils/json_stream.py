"""A JSON text read a piece at a time: the values of an object's members decoded one by one
as their text arrives, so that a large file's values never all exist at once (the evaluator
reads a predictions file one video at a time this way)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from json.decoder import WHITESPACE
from typing import IO, Any

from wtal.errors import InputFileError, WtalError


class IrregularJson(WtalError):
    """The text is not JSON that :class:`JsonStream` follows: the caller reads the file whole,
    and that read names the problem (so it never reaches the user)."""


class JsonStream:
    """A JSON text read a piece at a time: a value is decoded (by ``decoder``, as
    :func:`read_json` decodes it) once its text is all in the buffer. What is not plain JSON
    raises :class:`IrregularJson`, so that the full read reports it with its own message."""

    #: Characters read at a time, at least: reads grow to 8x the longest value so far, so
    #: that a value is seldom cut by the buffer's end (then decoded again with more text).
    CHUNK = 1 << 22

    def __init__(
        self,
        handle: IO[str],
        decoder: json.JSONDecoder,
        hook: Callable[[list[tuple[str, Any]]], dict[str, Any]],
    ) -> None:
        self.handle, self.decoder, self.hook = handle, decoder, hook
        self.buffer, self.pos, self.ended, self.longest = "", 0, False, 0

    def _more(self, at_least: int = 0) -> bool:
        """Read more text onto what is left from ``pos``; False at the end of the file."""
        rest, self.buffer, self.pos = self.buffer[self.pos :], "", 0
        size = max(self.CHUNK, at_least, 8 * self.longest)
        piece = "" if self.ended else self.handle.read(size)
        self.ended = not piece
        self.buffer = rest + piece
        return bool(piece)

    def peek(self) -> str:
        """The next character that is not whitespace ("" at the end), left unread."""
        while True:
            self.pos = WHITESPACE.match(self.buffer, self.pos).end()
            if self.pos < len(self.buffer):
                return self.buffer[self.pos]
            if not self._more():
                return ""

    def take(self, char: str) -> None:
        if self.peek() != char:
            raise IrregularJson(char)
        self.pos += 1

    def value(self) -> Any:
        """Decode the value at the next character. One that ends less than 3 characters
        before the buffer does (a number such as ``1e+5`` cut short?) is decoded again with
        more text."""
        self.peek()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError:
                if self._more(len(self.buffer) - self.pos):
                    continue
                raise IrregularJson("not valid JSON") from None
            except InputFileError:
                raise  # two equal keys in a complete object: read_json's own message
            except (ValueError, RecursionError):
                raise IrregularJson("not decodable") from None
            if len(self.buffer) - end >= 3 or self.ended:
                self.longest = max(self.longest, end - self.pos)
                self.pos = end
                return value
            self._more(len(self.buffer) - self.pos)  # moves the buffer: decode again

    def _key(self) -> str:
        if self.peek() != '"':
            raise IrregularJson("key")
        while True:
            try:
                key, end = json.decoder.scanstring(self.buffer, self.pos + 1)
            except json.JSONDecodeError:
                if self._more(len(self.buffer) - self.pos):
                    continue
                raise IrregularJson("key") from None
            self.pos = end
            return key

    def members(self) -> Iterator[str]:
        """The keys of the object at the next character; the caller reads each value
        before the next key. Two equal keys are refused at the '}', as read_json does."""
        self.take("{")
        keys: list[tuple[str, None]] = []
        more = self.peek() != "}"
        while more:
            keys.append((self._key(), None))
            self.take(":")
            yield keys[-1][0]
            more = self.peek() == ","
            self.take("," if more else "}")
        if not keys:
            self.take("}")
        self.hook(keys)
