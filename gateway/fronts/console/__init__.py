"""The console front: the web console (``/console/``), Swagger UI (``/docs/``) and the
OpenAPI documents (``/openapi.json`` and one per model and deployment), assembled
from the parts every described front contributes."""
