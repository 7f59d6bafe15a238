"""The TF Serving REST front: ``/v1/models/...`` and the Paperspace ``/model-serving/...``."""
