"""The TF Serving REST API's JSON: predict, classify/regress, status and metadata."""
