"""The API's routes, one module per family of resources; `calipso_api.app` wires them."""
