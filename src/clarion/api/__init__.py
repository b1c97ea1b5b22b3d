"""The thin HTTP layer: request models, auth, routes, error format."""
