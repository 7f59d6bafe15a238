"""What wraps every request whatever its front: error rendering, limits, auth,
CORS, metrics and the access log."""
