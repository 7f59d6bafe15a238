"""Pure JSON <-> proto translation for TF Serving's REST API: no aiohttp, no gRPC, no I/O."""
