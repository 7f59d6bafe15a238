"""The request body as the fronts get it: chunks, joined once on demand."""

from __future__ import annotations

from gateway.core.calls import Body


def test_a_body_keeps_its_chunks_until_asked_for_bytes() -> None:
    chunks = (b"ab", b"", b"cde")
    body = Body(chunks)
    assert body.size == 5
    assert body.chunks == chunks
    data = body.data
    assert data == b"abcde"
    assert body.data is data  # joined once
    assert body.chunks == (data,)


def test_one_chunk_is_its_own_data() -> None:
    chunk = b"x" * 100
    assert Body([chunk]).data is chunk
    assert Body().data == b"" and Body().size == 0
