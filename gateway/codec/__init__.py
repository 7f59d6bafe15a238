"""Pure translation between the fronts' JSON (and binary) formats and the
ModelServer's protos: no aiohttp, no gRPC, no I/O. ``tensor`` is shared by
every front; ``tfs`` is TF Serving's JSON; ``requests`` assembles request protos."""
