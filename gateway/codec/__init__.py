"""Pure JSON <-> proto translation for TF Serving\x27s REST API: no aiohttp, no gRPC, no I/O."""
