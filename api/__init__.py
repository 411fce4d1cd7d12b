"""The Calipso REST API (Falcon), imported as calipso_api; its routes land with issue 6."""
